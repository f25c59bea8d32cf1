"""The submit side of `kontor smpp` on real Redis, with a hand-driven clock: window, rate, retries, recovery."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from adapters.senders import TransientSendError
from adapters.senders.smpp import INFLIGHT, QUEUE, Item, SmppSender, item_id_of, outcome, publish
from sms_gateway.settings import load
from sms_gateway.smpp.outbound import Outbound, part_key
from tests.support.stack import ROOT

LONG = "ش" * 150  # three UCS2 parts


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def outbound(client: redis.Redis, **changes: Any) -> tuple[Outbound, Clock]:
    cfg = load(ROOT / "config.yaml").smpp
    assert cfg is not None
    clock = Clock()
    return Outbound(client, dataclasses.replace(cfg, **changes), clock), clock


def test_the_window_and_the_rate_bound_what_is_outstanding(redis_client: redis.Redis) -> None:
    box, clock = outbound(redis_client, window=2, per_second=10)
    redis_client.rpush(QUEUE, Item.new("+989121234567", LONG).dumps())
    first = box.next()
    assert first is not None and box.next() is None  # the rate: one per 0.1 s
    box.sent(1, first)
    clock.now += 0.1
    second = box.next()
    assert second is not None
    box.sent(2, second)
    clock.now += 0.1
    assert box.next() is None  # the window: two outstanding
    box.answered(1, 0, "m1")
    assert box.next() is not None


def test_a_throttled_part_is_retried_later_and_the_worker_gets_the_first_part_id(redis_client: redis.Redis) -> None:
    box, clock = outbound(redis_client, per_second=1000)
    item = Item.new("+989121234567", LONG, "w1", wait=True)
    redis_client.rpush(QUEUE, item.dumps())
    for seq in (1, 2, 3):
        part = box.next()
        assert part is not None
        box.sent(seq, part)
        clock.now += 0.01
    box.answered(1, 0, "m1")
    box.answered(2, 0x58, "")  # ESME_RTHROTTLED
    box.answered(3, 0, "m3")
    assert box.next() is None and outcome(redis_client, "w1", 0) is None
    clock.now += 2.5
    again = box.next()
    assert again is not None and again.index == 1
    box.sent(4, again)
    box.answered(4, 0, "m2")
    assert outcome(redis_client, "w1", 0) == {"provider_id": "m1", "error": ""}
    assert redis_client.get(part_key("m3")) == b"m1" and redis_client.llen(INFLIGHT) == 0


def test_a_refused_sms_fails_for_good(redis_client: redis.Redis) -> None:
    box, _ = outbound(redis_client)
    redis_client.rpush(QUEUE, Item.new("+989121234567", "hi", "w2", wait=True).dumps())
    part = box.next()
    assert part is not None
    box.sent(1, part)
    box.answered(1, 0x0B, "")  # ESME_RINVDSTADR
    result = outcome(redis_client, "w2", 0)
    assert result is not None and "0x0000000b" in result["error"] and redis_client.llen(INFLIGHT) == 0


def test_after_a_dropped_link_only_the_parts_not_accepted_are_sent_again(redis_client: redis.Redis) -> None:
    box, clock = outbound(redis_client, per_second=1000)
    redis_client.rpush(QUEUE, Item.new("+989121234567", LONG, "w3").dumps())
    for seq in (1, 2):
        part = box.next()
        assert part is not None
        box.sent(seq, part)
        clock.now += 0.01
    box.answered(1, 0, "m1")
    assert box.recover() == 1 and redis_client.llen(QUEUE) == 1  # the link dropped: back in the queue
    indexes = []
    while (part := box.next()) is not None:
        indexes.append(part.index)
        clock.now += 0.01
    assert indexes == [1, 2]


def test_find_tells_never_queued_waiting_and_accepted_apart(redis_client: redis.Redis) -> None:
    sender, since = SmppSender(redis_client, "3000", wait_seconds=0), datetime.now(UTC)
    assert sender.find("+989121234567", "hi", since, local_id="7") is None  # never queued: send it
    with pytest.raises(TransientSendError):
        sender.send("+989121234567", "hi", local_id="7")  # queued, the SMSC has not answered
    with pytest.raises(TransientSendError):
        sender.find("+989121234567", "hi", since, local_id="7")  # cannot tell yet
    assert redis_client.llen(QUEUE) == 1
    publish(redis_client, item_id_of("+989121234567", "hi", "7"), "sim9")
    assert sender.find("+989121234567", "hi", since, local_id="7") == "sim9"
    assert sender.send("+989121234567", "hi", local_id="7") == "sim9" and redis_client.llen(QUEUE) == 1


def test_parts_of_an_item_already_refused_for_good_are_dropped_not_a_crash(redis_client: redis.Redis) -> None:
    box, clock = outbound(redis_client, per_second=1000)
    item = Item.new("+989121234567", LONG, "w9", wait=True)
    redis_client.rpush(QUEUE, item.dumps())
    for seq in (1, 2):
        part = box.next()
        assert part is not None
        box.sent(seq, part)
        clock.now += 0.01
    box.answered(1, 0x0B, "")  # the SMSC refuses the first part for good: the item ends
    box.answered(2, 0x00, "m2")  # the answer to another part arrives after: nothing to do, no KeyError
    clock.now += 10
    assert box.next() is None  # its third part was not lined up any more
    ended = outcome(redis_client, item.id, 0)
    assert ended is not None and "0x0000000b" in ended["error"] and redis_client.llen(INFLIGHT) == 0


def test_a_stray_part_number_never_completes_a_message(redis_client: redis.Redis) -> None:
    from sms_gateway.smpp.codec import Part
    from sms_gateway.smpp.inbound import _assemble

    where = "kontor:{smpp}:test-parts"
    assert _assemble(redis_client, where, Part("سلام ".encode("utf-16-be"), 7, 2, 1)) is None
    assert _assemble(redis_client, where, Part(b"junk", 7, 2, 0)) is None  # part 0 of 2: there is no such part
    whole = _assemble(redis_client, where, Part("دنیا".encode("utf-16-be"), 7, 2, 2))
    assert whole is not None and whole.decode("utf-16-be") == "سلام دنیا"
