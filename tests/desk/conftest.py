"""The desk in-process (Flask's test client) over a real SQL database, Redis and the sandbox subscriber system."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from adapters.sandbox import RunningSandbox
from adapters.sandbox import start as start_sandbox
from sms_gateway import runtime
from sms_gateway.desk.app import create_desk_app
from sms_gateway.outbox import utcnow
from sms_gateway.settings import load
from storage.db import upgrade
from tests.desk.support import PASSWORD, people, token
from tests.support.stack import free_port, write_config


@dataclass
class Desk:
    services: runtime.Services
    app: object
    config: Path

    def client(self, name: str | None = None) -> FlaskClient:
        """A browser-like client, signed in as `name` unless None."""
        client: FlaskClient = self.app.test_client()  # type: ignore[attr-defined]
        if name is not None:
            page = client.get("/login").get_data(as_text=True)
            answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token(page)})
            assert answer.status_code == 302, answer.get_data(as_text=True)
        return client


@pytest.fixture()
def desk(tmp_path: Path, redis_server: str, database_url: str, redis_client: object) -> Iterator[Desk]:
    port = free_port()
    config = write_config(
        tmp_path,
        redis_server,
        database_url,
        None,
        free_port(),
        subscriber_system__url=f"http://127.0.0.1:{port}/subscriber-system",
    )
    settings = load(config)
    sandbox: RunningSandbox = start_sandbox(settings, port=port)
    upgrade(settings.database_url)
    services = runtime.build(settings)
    people(services.db, utcnow())
    yield Desk(services, create_desk_app(services), config)
    sandbox.stop()
    services.engine.dispose()
