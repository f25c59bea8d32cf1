"""End-to-end fixtures: twilio stand-in, and Kontor's real web and worker processes on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.stack import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DATABASES,
    POSTGRES,
    Stack,
    free_port,
    reset_database,
    write_config,
)
from tests.support.twilio_standin import TwilioStandIn


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioStandIn]:
    standin = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module", params=DATABASES)
def stack(
    request: pytest.FixtureRequest, redis_server: str, twilio: TwilioStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("stack")
    redis.Redis.from_url(redis_server).flushall()
    if request.param == "postgresql":
        reset_database(POSTGRES)
        database_url = POSTGRES
    else:
        database_url = f"sqlite:///{folder / 'kontor.db'}"
    port = free_port()
    config = write_config(folder, redis_server, database_url, twilio.url, port)
    running = Stack(config, port, AUTH_TOKEN).start()
    yield running
    running.stop()
