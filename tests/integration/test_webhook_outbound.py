"""Outbound SMS through twilio's REST client to the local stand-in: retried on 429/5xx/network, recorded on
permanent errors, throttled per sender number, suppressed after STOP, and never sent twice for one event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from adapters import clock
from adapters.senders import TransientSendError
from sms_gateway import bootstrap, outbox, runtime
from sms_gateway.throttle import Throttled
from storage import repository
from storage.models import OutboundMessage
from tests.support.hook import installed_services
from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN, free_port
from tests.support.twilio_standin import TwilioStandIn

PHONE = "+989121234567"


@pytest.fixture()
def twilio() -> Iterator[TwilioStandIn]:
    standin = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    yield standin
    standin.stop()


@pytest.fixture()
def services(tmp_path: Path, redis_server: str, twilio: TwilioStandIn) -> Iterator[runtime.Services]:
    yield installed_services(tmp_path, redis_server, twilio.url)
    bootstrap.uninstall()


def owe(services: runtime.Services, key: str = "tracking:SM1", to: str = PHONE) -> int:
    with services.db.begin() as db:
        return repository.owe_message(db, key, to, "hello", clock.utcnow()).id


def row(services: runtime.Services, message_id: int) -> OutboundMessage:
    with services.db() as db:
        return db.scalar(select(OutboundMessage).where(OutboundMessage.id == message_id))


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_busy_gateway_is_retried_and_sends_once(
    services: runtime.Services, twilio: TwilioStandIn, status: int
) -> None:
    message_id = owe(services)
    twilio.fail_next = [status, status]
    for _ in range(2):
        with pytest.raises(TransientSendError):
            outbox.deliver(message_id)
    assert row(services, message_id).status == "pending" and row(services, message_id).attempts == 2
    outbox.deliver(message_id)
    outbox.deliver(message_id)  # a retried job after success: no second SMS
    assert twilio.to(PHONE) == ["hello"]
    assert row(services, message_id).status == "sent" and row(services, message_id).attempts == 3


@pytest.mark.parametrize("status", [400, 404])
def test_a_permanent_error_is_recorded_and_not_retried(
    services: runtime.Services, twilio: TwilioStandIn, status: int
) -> None:
    message_id = owe(services)
    twilio.fail_next = [status]  # the stand-in answers code 21610 on a 4xx
    outbox.deliver(message_id)
    outbox.deliver(message_id)
    stored = row(services, message_id)
    assert stored.status == "failed" and stored.attempts == 1 and "21610" in stored.error
    assert twilio.to(PHONE) == []


def test_a_network_error_is_transient(tmp_path: Path, redis_server: str) -> None:
    services = installed_services(tmp_path, redis_server, f"http://127.0.0.1:{free_port()}")
    message_id = owe(services)
    with pytest.raises(TransientSendError):
        outbox.deliver(message_id)
    assert row(services, message_id).status == "pending"
    bootstrap.uninstall()


def test_an_opted_out_phone_is_suppressed(services: runtime.Services, twilio: TwilioStandIn) -> None:
    services.redis.set(f"kontor:{{{PHONE}}}:optout", "1")
    message_id = owe(services)
    outbox.deliver(message_id)
    assert row(services, message_id).status == "suppressed" and twilio.to(PHONE) == []


def test_concurrent_deliveries_of_one_event_send_once(services: runtime.Services, twilio: TwilioStandIn) -> None:
    message_id = owe(services)
    threads = [threading.Thread(target=outbox.deliver, args=(message_id,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert twilio.to(PHONE) == ["hello"]


def test_sending_is_throttled_per_sender(tmp_path: Path, redis_server: str, twilio: TwilioStandIn) -> None:
    services = installed_services(tmp_path, redis_server, twilio.url, outbound__per_sender_per_second=20)
    ids = [owe(services, f"tracking:SM{i}") for i in range(21)]
    started = time.monotonic()
    threads = [threading.Thread(target=outbox.deliver, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(twilio.to(PHONE)) == 21
    assert time.monotonic() - started >= 0.95  # 21 sends at 20/s need a whole second
    bootstrap.uninstall()


def test_the_throttle_waits_bounded_then_gives_up(redis_client: redis.Redis) -> None:
    waits: list[float] = []
    assert outbox.throttle(redis_client, "+1500", 1, max_wait=0.5, sleep=waits.append) == 0
    with pytest.raises(Throttled):
        outbox.throttle(redis_client, "+1500", 1, max_wait=0.5, sleep=waits.append)
    assert outbox.throttle(redis_client, "+1600", 1, max_wait=0.5) == 0  # another sender has its own bucket
