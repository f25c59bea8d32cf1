"""A far subscriber system costs a waiting request, not a whole web process (issue 12, server.threads)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from sms_gateway.runtime import catalogue
from tests.support.stack import AUTH_TOKEN, Stack, free_port, write_config
from tests.support.twilio_standin import TwilioStandIn

CAT = catalogue()
LATENCY_MS = 1500
BILL_ID = "1234567804121"  # a demo subscriber: the bill-ID step asks the subscriber system for its meter


@pytest.fixture(params=[4, 1], ids=["threads=4", "threads=1"])
def slow_stack(
    request: pytest.FixtureRequest,
    redis_server: str,
    twilio: TwilioStandIn,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, int]]:
    """One web process (sandbox answering after 1.5 s); no worker: only the webhook is under test."""
    folder: Path = tmp_path_factory.mktemp("slow")
    redis.Redis.from_url(redis_server).flushall()
    port = free_port()
    config = write_config(
        folder,
        redis_server,
        f"sqlite:///{folder / 'kontor.db'}",
        twilio.url,  # the account whose token signs the webhooks (nothing is sent: no worker runs)
        port,
        server__workers=1,
        server__threads=request.param,
        sandbox__latency_ms=LATENCY_MS,
    )
    running = Stack(config, port, AUTH_TOKEN).start("sandbox", "web")
    yield running, request.param
    running.stop()


def timed(stack: Stack, phone: str, body: str) -> tuple[list[str], float]:
    started = time.monotonic()
    replies = stack.sms(phone, body)
    return replies, time.monotonic() - started


def test_other_phones_are_answered_while_a_bill_lookup_waits(slow_stack: tuple[Stack, int]) -> None:
    stack, threads = slow_stack
    slow_phone, others = "+989120000001", [f"+98912000001{i}" for i in range(3)]
    stack.sms(slow_phone, "READ")
    with ThreadPoolExecutor(4) as pool:
        lookup = pool.submit(timed, stack, slow_phone, BILL_ID)
        time.sleep(0.3)  # the lookup is in flight, waiting on the sandbox
        quick = [pool.submit(timed, stack, phone, "READ") for phone in others]
        answered = [f.result(timeout=30) for f in quick]
        replies, waited = lookup.result(timeout=30)
    assert waited >= LATENCY_MS / 1000, "the lookup did not wait on the sandbox: the fault did not bite"
    assert CAT.text("ask_nid", "en") in " ".join(replies), replies  # the meter was found: the dialog went on
    assert all(r and r != [CAT.text("try_again_later", "en")] for r, _ in answered), answered
    slowest = max(t for _, t in answered)
    if threads > 1:
        assert slowest < 0.5, f"a READ waited {slowest:.2f}s behind the bill lookup with {threads} threads"
    else:  # the one sync process is held by the lookup: the proof this test can fail
        assert slowest > 0.8, f"a READ took {slowest:.2f}s: one sync process was not held by the lookup?"
