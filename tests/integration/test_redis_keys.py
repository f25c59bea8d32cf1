"""Issue 8: after a whole conversation (webhook, jobs, outbound SMS) every key in the real Redis carries the
prefix and its phone's hash tag, except the documented ones: the global inbound counter, the outbound
throttle of the sender number, and RQ's own keys."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.crc import key_slot

from adapters import sandbox
from dialogs.ids import make_tracking_number
from sms_gateway import runtime, worker
from sms_gateway.app import create_app
from tests.faults.harness import Hook
from tests.integration.test_webhook_outbound import configure
from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN, free_port
from tests.support.twilio_standin import TwilioStandIn

PHONE, OTHER = "+989121234567", "+989351234567"
STEPS = ["قرائت", "1234567804121", "0012345679", "04620", "0", "0", "0", "1"]
PHONE_KEY = re.compile(r"kontor:\{(?P<phone>\+\d+)\}:(?P<name>s|lock|rate|inquire|optout)")
GLOBAL_KEY = re.compile(r"kontor:rate:global:\d+")


@pytest.fixture()
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_server: str) -> Iterator[tuple]:
    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    services = configure(monkeypatch, tmp_path, redis_server, twilio.url, sandbox__port=free_port(),
                         outbound__per_sender_per_second=1000)
    box = sandbox.start(services.settings)
    yield services, twilio
    box.stop()
    twilio.stop()
    runtime.from_environment.cache_clear()


def test_every_key_is_prefixed_and_hash_tagged(world) -> None:
    services, twilio = world
    hook = Hook(create_app(services).test_client(), services)
    assert hook.converse(PHONE, STEPS)                               # a confirmed request: its job is queued
    hook.sms(PHONE, f"INQUIRE {make_tracking_number('10000000000')}")  # the INQUIRE counter
    hook.converse(OTHER, ["READ", "STOP"])                           # an opt-out flag that stays
    worker.run(services, burst=True)                                 # the jobs send SMS through the gateway
    assert twilio.to(PHONE)

    keys = sorted(k.decode() for k in services.redis.scan_iter(count=1000))
    phone_keys = [m for m in map(PHONE_KEY.fullmatch, keys) if m]
    others = [k for k in keys if not PHONE_KEY.fullmatch(k) and not k.startswith("rq:")]
    assert all(GLOBAL_KEY.fullmatch(k) for k in others if k != f"kontor:throttle:{{{services.sms.number}}}"), others
    assert f"kontor:throttle:{{{services.sms.number}}}" in others and any(k.startswith("rq:") for k in keys)
    names = {(m["phone"], m["name"]) for m in phone_keys}
    assert {(PHONE, "s"), (PHONE, "rate"), (PHONE, "inquire"), (OTHER, "rate"), (OTHER, "optout")} <= names
    assert not any(name == "lock" for _, name in names)             # every lock was released
    for phone in (PHONE, OTHER):
        assert len({key_slot(m.group().encode()) for m in phone_keys if m["phone"] == phone}) == 1
