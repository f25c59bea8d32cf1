"""gunicorn serving the Flask app, started from Python so one `kontor web` does it all.

Threaded workers (`gthread`, `server.threads` per process): a bill lookup waiting on a far subscriber system
holds one thread, not a whole process, so the other threads go on answering (measured in docs/bench.md).
The per-phone lock lives in Redis, so threads and processes serialise a phone's messages alike.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

from sms_gateway.settings import Server, Settings


def gunicorn_options(server: Server) -> dict[str, Any]:
    """The gunicorn settings of `kontor web` (the bench's reference endpoint is served with the same)."""
    return {
        "bind": f"{server.host}:{server.port}",
        "workers": server.workers or os.cpu_count() or 1,
        "worker_class": "gthread" if server.threads > 1 else "sync",
        "threads": server.threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,  # a proxy or gateway reusing its connection skips a TCP handshake per message
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "control_socket_disable": True,
    }


class KontorWeb(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options = {**gunicorn_options(self.settings.server), "child_exit": child_exit}
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        from sms_gateway.app import create_app
        from sms_gateway.runtime import build

        return create_app(build(self.settings))


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: a worker exited, so its live gauges (prometheus_client multiprocess mode) go with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # prometheus_client's multiprocess module is unannotated
