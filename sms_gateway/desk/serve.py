"""gunicorn serving the desk on its own address, apart from the public webhook."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from sms_gateway.serve import child_exit
from sms_gateway.settings import Settings

WORKERS = 2  # a handful of people at a distribution company; two so one slow page never blocks the rest


class DeskWeb(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        desk = self.settings.desk
        options: dict[str, Any] = {
            "bind": f"{desk.host}:{desk.port}",
            "workers": WORKERS,
            "worker_class": "sync",
            "timeout": 30,
            "graceful_timeout": 10,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "control_socket_disable": True,
            "child_exit": child_exit,  # metrics: its live gauges go with an exited worker
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]  # gunicorn's own signature
        from sms_gateway.desk.app import create_desk_app
        from sms_gateway.runtime import build

        return create_desk_app(build(self.settings))


def desk_url(settings: Settings) -> str:
    """Where staff open the desk."""
    return settings.desk.public_url or f"http://{settings.desk.host}:{settings.desk.port}/"
