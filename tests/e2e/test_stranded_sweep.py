"""A real `kontor worker` process sweeps SQL for an owed SMS that no job delivers, and sends it once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from adapters import clock
from sms_gateway.procs import wait_until
from storage import repository
from storage.db import make_engine, session_factory
from tests.support.stack import AUTH_TOKEN, Stack, free_port, write_config
from tests.support.twilio_standin import TwilioStandIn


@pytest.fixture()
def worker_only(redis_server: str, twilio: TwilioStandIn, tmp_path: Path) -> Iterator[tuple[Stack, str]]:
    redis.Redis.from_url(redis_server).flushall()
    database_url, port = f"sqlite:///{tmp_path / 'kontor.db'}", free_port()
    config = write_config(tmp_path, redis_server, database_url, twilio.url, port, worker__stranded_after_seconds=5)
    running = Stack(config, port, AUTH_TOKEN).start("worker")
    yield running, database_url
    running.stop()


def test_the_worker_sends_a_stranded_sms_once(worker_only, twilio: TwilioStandIn) -> None:
    stack, database_url = worker_only
    engine = make_engine(database_url)
    try:
        with session_factory(engine).begin() as db:  # owed a minute ago; its job was lost (no job is queued)
            ago = clock.utcnow() - timedelta(minutes=1)
            repository.owe_message(db, "test:stranded-e2e", "+989120000042", "swept and sent", ago)
    finally:
        engine.dispose()
    assert wait_until(lambda: twilio.to("+989120000042") != [], 20, 0.2), stack.log("worker")
    time.sleep(3 * 5 / 2)  # more sweeps, past the grace period: a second send would show by now
    assert twilio.to("+989120000042") == ["swept and sent"]
