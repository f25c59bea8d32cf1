"""Per-process counters moved by real parts in this process: the webhook's outcomes (real Redis, or none) and an
outside system's errors and breaker state (the sandbox on loopback, failing on purpose)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from adapters import ownership, sandbox
from adapters.http import OutsideSystemUnavailable
from sms_gateway import runtime
from sms_gateway.app import create_app
from tests.support.hook import Hook, flush, running_hook, settings_for

PHONE = "+989121234567"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def messages_in(outcome: str) -> float:
    return value("kontor_messages_in_total", channel="twilio", outcome=outcome)


@pytest.fixture()
def hook(redis_server: str, tmp_path: Path) -> Iterator[Hook]:
    flush(redis_server)
    with running_hook(settings_for(tmp_path, redis_server, limits__per_phone_per_minute=2)) as running:
        yield running


def test_limited_and_duplicate_messages_are_counted(hook: Hook) -> None:
    limited, duplicate, answered = messages_in("limited"), messages_in("duplicate"), messages_in("answered")
    hook.sms(PHONE, "READ", sid="SMone")
    hook.sms(PHONE, "READ", sid="SMone")
    hook.sms(PHONE, "HELP")  # the third message in a minute: over the limit of 2
    assert messages_in("answered") - answered == 1
    assert messages_in("duplicate") - duplicate == 1
    assert messages_in("limited") - limited == 1


def test_redis_down_counts_try_again(tmp_path: Path) -> None:
    services = runtime.build(settings_for(tmp_path, f"unix://{tmp_path}/no-redis.sock"))
    before = messages_in("try_again")
    Hook(create_app(services).test_client(), services).sms(PHONE, "READ")
    assert messages_in("try_again") - before == 1


def test_a_bad_signature_is_counted(hook: Hook) -> None:
    before = messages_in("refused_signature")
    assert hook.post(hook.params(PHONE, "READ"), signature="forged").status_code == 403
    assert messages_in("refused_signature") - before == 1


def test_a_failing_system_moves_errors_and_the_breaker_state(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "redis://127.0.0.1:1", sandbox__failure_rate=1.0)
    outside = dataclasses.replace(settings.outside_systems, retries=0, breaker_failures=2, breaker_reset_seconds=60)
    box = sandbox.start(settings, port=0)
    try:
        url = f"http://127.0.0.1:{box.port}/mobile-ownership"
        client = ownership.HttpMobileOwnership(url, outside, sleep=lambda _: None)
        system = {"system": "mobile_ownership"}
        server, refused = (
            value("kontor_outside_errors_total", kind="server", **system),
            value("kontor_outside_errors_total", kind="breaker_open", **system),
        )
        calls = value("kontor_outside_call_seconds_count", **system)
        for _ in range(3):
            with pytest.raises(OutsideSystemUnavailable):
                client.owner_matches(PHONE, "0012345679")
        assert value("kontor_outside_errors_total", kind="server", **system) - server == 2
        assert value("kontor_outside_errors_total", kind="breaker_open", **system) - refused == 1
        assert value("kontor_outside_call_seconds_count", **system) - calls == 2  # the open breaker spared one
        assert value("kontor_outside_breaker_state", **system) == 2
    finally:
        box.stop()
