"""Issue 8: every key a whole conversation writes (webhook, jobs, outbound SMS) carries the prefix and its phone's
hash tag, except the documented ones: the global inbound counter, the outbound throttle of the sender number, the
confirmed requests' inbox (one tag of its own), and RQ's own keys. Keys that expire or are deleted before the end
(locks, the throttle) are seen through Redis's keyspace notifications."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.crc import key_slot

from dialogs.ids import make_tracking_number
from sms_gateway import worker
from sms_gateway.app import create_app
from tests.support.hook import Hook

PHONE, OTHER = "+989121234567", "+989351234567"
STEPS = ["قرائت", "1234567804121", "0012345679", "04620", "0", "0", "0", "1"]
PHONE_KEY = re.compile(r"kontor:\{(?P<phone>\+\d+)\}:(?P<name>s|lock|rate|inquire|optout)")
GLOBAL_KEY = re.compile(r"kontor:rate:global:\d+")
WORKER_KEY = re.compile(r"kontor:worker:\{kontor\.[^{}]+\}:alive")  # a worker's heartbeat (sms_gateway/worker.py)
INBOX_KEY = re.compile(r"kontor:\{(confirmed|followup)\}:(inbox|kick|takers|taken:[^{}]+)")  # sms_gateway/inbox.py


@pytest.fixture()
def written(redis_server: str) -> Iterator[Callable[[], set[str]]]:
    """Every key touched from now on (keyspace notifications), as a function called once the work is done."""
    client = redis.Redis.from_url(redis_server)
    client.config_set("notify-keyspace-events", "KA")
    pubsub = client.pubsub()
    pubsub.psubscribe("__keyspace@*__:*")

    def drain() -> set[str]:
        keys = set()
        while (message := pubsub.get_message(timeout=1.0)) is not None:
            if message["type"] == "pmessage":
                keys.add(message["channel"].decode().split(":", 1)[1])
        return keys

    yield drain
    pubsub.close()
    client.config_set("notify-keyspace-events", "")
    client.close()


def test_every_key_is_prefixed_and_hash_tagged(written, world) -> None:
    services, twilio = world
    hook = Hook(create_app(services).test_client(), services)
    assert hook.converse(PHONE, STEPS)  # a confirmed request: its job is queued
    hook.sms(PHONE, f"INQUIRE {make_tracking_number('10000000000')}")  # the INQUIRE counter
    hook.converse(OTHER, ["READ", "STOP"])  # an opt-out flag that stays
    worker.run(services, burst=True)  # the jobs send SMS through the gateway
    assert twilio.to(PHONE)

    keys = sorted(written() | {k.decode() for k in services.redis.scan_iter(count=1000)})
    phone_keys = [m for m in map(PHONE_KEY.fullmatch, keys) if m]
    others = [k for k in keys if not PHONE_KEY.fullmatch(k) and not k.startswith("rq:")]
    throttle = f"kontor:throttle:{{{services.sms.number}}}"
    documented = (GLOBAL_KEY, WORKER_KEY, INBOX_KEY)
    assert all(any(p.fullmatch(k) for p in documented) for k in others if k != throttle), others
    assert "kontor:{confirmed}:inbox" in others  # the confirm went through the inbox, drained by the worker
    assert f"kontor:throttle:{{{services.sms.number}}}" in others and any(k.startswith("rq:") for k in keys)
    names = {(m["phone"], m["name"]) for m in phone_keys}
    assert {(PHONE, "s"), (PHONE, "rate"), (PHONE, "inquire"), (OTHER, "rate"), (OTHER, "optout")} <= names
    assert (PHONE, "lock") in names and not services.redis.keys("*:lock")  # locks were taken, all released
    for phone in (PHONE, OTHER):
        assert len({key_slot(m.group().encode()) for m in phone_keys if m["phone"] == phone}) == 1
