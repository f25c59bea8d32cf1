"""Redis with Sentinel on loopback, for tests: a primary, a replica (both append-only) and three Sentinels.

Every server is the redis-server binary Kontor already ships (`redis-server <conf> --sentinel` is a Sentinel),
each on a free loopback TCP port, each in its own folder; stop() ends every process it started.
"""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redis

from sms_gateway import procs
from sms_gateway.embedded_redis import redis_binary
from sms_gateway.procs import free_port, wait_until

MASTER = "kontor"
DOWN_AFTER_MS = 1000  # how long the primary may be silent before a Sentinel calls it down
FAILOVER_TIMEOUT_MS = 5000


@dataclass
class Server:
    """One redis-server process (data node or Sentinel) and where it listens."""

    name: str
    port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=1)

    def start(self, conf: str, sentinel: bool = False) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / ("sentinel.conf" if sentinel else "redis.conf")
        path.write_text(conf, encoding="utf-8")  # a Sentinel rewrites its own file: one per process
        argv = [redis_binary(), str(path)] + (["--sentinel"] if sentinel else [])
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        if not wait_until(self._answers, 10, 0.05):
            raise RuntimeError(f"{self.name} did not answer on {self.address}; see {self.folder}")

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: the machine is gone, nothing flushed, nothing said to the replica or the Sentinels."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc, 10)
            self.proc = None


def _data_conf(folder: Path, port: int, replica_of: int | None) -> str:
    lines = [
        "bind 127.0.0.1",
        f"port {port}",
        f"dir {folder}",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        f"logfile {folder / 'redis.log'}",
        "daemonize no",
    ]
    return "\n".join(lines + ([f"replicaof 127.0.0.1 {replica_of}"] if replica_of else [])) + "\n"


def _sentinel_conf(folder: Path, port: int, primary: int) -> str:
    return (
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                f"dir {folder}",
                f"logfile {folder / 'sentinel.log'}",
                "daemonize no",
                f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2",
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER} 1",
            ]
        )
        + "\n"
    )


@dataclass
class SentinelCluster:
    """A primary, one replica and three Sentinels (quorum 2), as docs/production.md lays them out."""

    folder: Path
    primary: Server = field(init=False)
    replica: Server = field(init=False)
    sentinels: list[Server] = field(init=False)

    def __post_init__(self) -> None:
        self.primary = Server("primary", free_port(), self.folder / "primary")
        self.replica = Server("replica", free_port(), self.folder / "replica")
        self.sentinels = [Server(f"sentinel{i}", free_port(), self.folder / f"sentinel{i}") for i in range(3)]

    @property
    def hosts(self) -> list[str]:
        return [s.address for s in self.sentinels]

    def sentinel_block(self) -> dict[str, object]:
        """The `redis.sentinel` section of a Kontor config that uses this cluster."""
        return {"hosts": self.hosts, "master": MASTER, "password": ""}

    def start(self) -> SentinelCluster:
        try:
            self.primary.start(_data_conf(self.primary.folder, self.primary.port, None))
            self.replica.start(_data_conf(self.replica.folder, self.replica.port, self.primary.port))
            if not wait_until(lambda: self._link_up(self.replica), 15, 0.1):
                raise RuntimeError("the replica did not sync with the primary")
            for s in self.sentinels:
                s.start(_sentinel_conf(s.folder, s.port, self.primary.port), sentinel=True)
            if not wait_until(lambda: self._sentinels_see_each_other(), 20, 0.2):
                raise RuntimeError("the Sentinels did not find each other and the replica")
        except BaseException:
            self.stop()
            raise
        return self

    def _link_up(self, server: Server) -> bool:
        try:
            return server.client().info("replication").get("master_link_status") == "up"
        except redis.RedisError:
            return False

    def _sentinels_see_each_other(self) -> bool:
        try:
            for s in self.sentinels:
                fields = s.client().sentinel_master(MASTER)  # redis-py parses the reply into a dict
                if int(fields["num-other-sentinels"]) < 2 or int(fields["num-slaves"]) < 1:
                    return False
            return True
        except redis.RedisError:
            return False

    def current_primary_port(self) -> int | None:
        """The primary's port as the Sentinels' majority says it, or None when they disagree or are unreachable."""
        answers = []
        for s in self.sentinels:
            try:
                answers.append(int(s.client().sentinel_get_master_addr_by_name(MASTER)[1]))
            except (redis.RedisError, TypeError, IndexError):
                continue
        best = max(set(answers), key=answers.count, default=None)
        return best if best is not None and answers.count(best) >= 2 else None

    def wait_promoted(self, timeout: float = 30) -> bool:
        """Whether the Sentinels promoted the replica, and it answers as a primary, within `timeout`."""

        def promoted() -> bool:
            if self.current_primary_port() != self.replica.port:
                return False
            try:
                return self.replica.client().info("replication").get("role") == "master"
            except redis.RedisError:
                return False

        return wait_until(promoted, timeout, 0.1)

    def restart_old_primary(self) -> None:
        """The killed primary's machine comes back as a replica of the promoted one, as Sentinel would make it
        (started so at once: on a loaded machine the Sentinels' own reconfiguration can take longer than a test)."""
        self.primary.start(_data_conf(self.primary.folder, self.primary.port, self.replica.port))

    def replica_attached(self) -> bool:
        """Whether the promoted replica has a replica of its own again (so WAIT 1 can be acknowledged)."""
        try:
            return int(self.replica.client().info("replication").get("connected_slaves", 0)) >= 1
        except redis.RedisError:
            return False

    def stop(self) -> None:
        for server in [*self.sentinels, self.replica, self.primary]:
            server.stop()
