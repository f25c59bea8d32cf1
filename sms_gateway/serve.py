"""gunicorn (sync workers) serving the Flask app, started from Python so one `kontor web` does it all."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

from sms_gateway.settings import Settings


class KontorWeb(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        server = self.settings.server
        options: dict[str, Any] = {
            "bind": f"{server.host}:{server.port}",
            "workers": server.workers or os.cpu_count() or 1,
            "worker_class": "sync",
            "timeout": 30,
            "graceful_timeout": 10,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        from sms_gateway.app import create_app
        from sms_gateway.runtime import build

        return create_app(build(self.settings))
