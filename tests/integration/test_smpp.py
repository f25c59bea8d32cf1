"""The SMPP channel in-process (sms_gateway.smpp.process.run in a thread) against a real SMSC on loopback
(tests/support/smsc.py), with real Redis, SQL and the sandboxes: MO in GSM 7-bit and UCS2, concatenated both
ways, a redelivered deliver_sm applied once, a dropped link losing nothing, throttling, delivery receipts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import smpplib.exceptions
from smpp34 import Tlv
from sqlalchemy import select

from adapters import sandbox
from adapters.clock import utcnow
from adapters.senders.smpp import INFLIGHT, QUEUE, SmppSender
from sms_gateway import runtime
from sms_gateway.settings import load
from sms_gateway.smpp import process, receipts
from sms_gateway.smpp.link import Link
from sms_gateway.smpp.outbound import part_key
from storage.db import upgrade
from storage.models import OutboundMessage
from tests.support.smsc import ESME_RSYSERR, ESME_RTHROTTLED, Smsc, account, settle
from tests.support.stack import free_port, write_config

PHONE, RAW = "+989121234567", "989121234567"
RECEIPTED_MESSAGE_ID, MESSAGE_STATE = 0x001E, 0x0427  # SMPP 3.4 TLV tags


@pytest.fixture()
def smsc() -> Iterator[Smsc]:
    simulator = Smsc().start()
    yield simulator
    simulator.stop()


@pytest.fixture()
def channel(smsc: Smsc, redis_server: str, database_url: str, tmp_path: Path) -> Iterator[runtime.Services]:
    """`kontor smpp`'s loop bound to the simulator, in a thread; stopped (unbound) after the test."""
    redis.Redis.from_url(redis_server).flushall()
    path = write_config(tmp_path, redis_server, database_url, None, free_port(), **account(smsc))
    settings = load(path)
    upgrade(settings.database_url)
    box = sandbox.start(settings)
    services, stop = runtime.build(settings), threading.Event()
    thread = threading.Thread(target=process.run, args=(services, stop), daemon=True)
    thread.start()
    yield services
    stop.set()
    thread.join(10)
    box.stop()
    assert not thread.is_alive()


def ask(smsc: Smsc, text: str, count: int, **how: object) -> str:
    """Send one MO and return the reply it got (the `count`-th message to the phone)."""
    smsc.mo(RAW, text, **how)  # type: ignore[arg-type]  # keyword options of Smsc.mo
    return smsc.wait(PHONE, count)[count - 1].text


def test_gsm_and_ucs2_messages_reach_the_dialog_and_replies_come_back(smsc: Smsc, channel: runtime.Services) -> None:
    assert "bill ID" in ask(smsc, "READ", 1)  # GSM 7-bit, data_coding 0
    reply = smsc.wait(PHONE, 1)[0]
    assert reply.data_coding == 0 and reply.parts == 1
    persian = ask(smsc, "قرائت", 2)  # UCS2, data_coding 8: the dialog restarts in Persian
    assert "شناسه قبض" in persian and smsc.wait(PHONE, 2)[1].data_coding == 8
    assert [s["registered_delivery"] for s in smsc.submits] == [0, 0]  # no receipt asked for a dialog's reply


@pytest.mark.parametrize("how", [{"udh16": False}, {"udh16": True}, {"sar": True}], ids=["udh8", "udh16", "sar"])
def test_a_concatenated_mo_is_reassembled(smsc: Smsc, channel: runtime.Services, how: dict[str, bool]) -> None:
    ask(smsc, "READ", 1)
    reply = ask(smsc, "1234567804121", 2, per_part=5, **how)  # three parts: 12345 67804 121
    assert "national ID" in reply


def test_a_long_persian_reply_is_split_and_reassembled(smsc: Smsc, channel: runtime.Services) -> None:
    for count, text in enumerate(["قرائت", "1234567804121", "0012345679", "04620", "0", "0", "0"], 1):
        last = ask(smsc, text, count)
    summary = smsc.wait(PHONE, 7)[6]
    assert summary.parts >= 2 and summary.data_coding == 8 and "04620" in summary.text and last == summary.text
    for s in smsc.submits[-summary.parts :]:
        assert len(s["short_message"]) <= 140 and s["esm_class"] & 0x40


def test_a_redelivered_deliver_sm_is_applied_once(
    smsc: Smsc, channel: runtime.Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask(smsc, "READ", 1)
    ask(smsc, "1234567804121", 2)
    original, dropped = Link.respond, list[object]()

    def lost_ack(link: Link, request: object, status: int = 0) -> None:
        """The link drops after the message was handled, before deliver_sm_resp: the SMSC delivers it again."""
        if getattr(request, "short_message", b"") == b"0012345679" and not dropped:
            dropped.append(request)
            assert link.client is not None
            link.client._socket.close()
            raise smpplib.exceptions.ConnectionError("dropped before the ack")
        original(link, request, status)

    monkeypatch.setattr(Link, "respond", lost_ack)
    settle(channel.settings.redis_url)  # the reply before is answered: only the dropped ack is in play
    binds = smsc.binds
    reply = ask(smsc, "0012345679", 3)
    assert dropped and smsc.binds > binds  # delivered again on a new bind
    assert "mid-load" in reply.lower() or "04512" in reply
    assert "digits" not in ask(smsc, "04620", 4)  # not taken twice: 04620 is the reading
    assert len(smsc.messages(PHONE)) == 4  # and the reply was not sent twice


def test_a_dropped_link_loses_nothing(smsc: Smsc, channel: runtime.Services) -> None:
    ask(smsc, "READ", 1)
    settle(channel.settings.redis_url)
    smsc.drop(down_seconds=1.5)  # the link breaks mid-dialog
    assert "national ID" in ask(smsc, "1234567804121", 2)
    client = redis.Redis.from_url(channel.settings.redis_url)
    smsc.refuse = [ESME_RTHROTTLED, ESME_RSYSERR]  # the SMSC pushes back twice, then accepts
    assert "04512" in ask(smsc, "0012345679", 3)
    settle(channel.settings.redis_url)  # the simulator records a submit before Kontor reads its answer
    assert client.llen(QUEUE) == 0 and client.llen(INFLIGHT) == 0


def test_queued_sms_wait_for_the_link_and_none_is_doubled(smsc: Smsc, channel: runtime.Services) -> None:
    smsc.down()  # the SMSC is unreachable
    sender = SmppSender(redis.Redis.from_url(channel.settings.redis_url), "3000", wait_seconds=1)
    with pytest.raises(Exception, match="not accepted"):
        sender.send(PHONE, "رهگیری: 516700544744")
    smsc.up()  # back: the queued SMS goes out
    sender.wait_seconds = 15
    provider_id = sender.send(PHONE, "رهگیری: 516700544744")  # the job's retry: the same SMS, not a second one
    assert provider_id.startswith("sim") and [m.text for m in smsc.messages(PHONE)] == ["رهگیری: 516700544744"]


def test_a_delivery_receipt_updates_the_outbound_status(smsc: Smsc, channel: runtime.Services) -> None:
    sender = SmppSender(redis.Redis.from_url(channel.settings.redis_url), "3000", wait_seconds=15)
    long_text = "صورتحساب خارج از دوره 516700544744: مبلغ 132,000 ریال، شناسه پرداخت 13250942"
    provider_id = sender.send(PHONE, long_text)  # two parts: the receipts come for each
    with channel.db.begin() as db:  # the outbox commits the row after send() returns
        db.add(
            OutboundMessage(
                event_key="outcome:1",
                to=PHONE,
                body=long_text,
                status="sent",
                provider="smpp",
                provider_id=provider_id,
                created_at=utcnow(),
            )
        )
    assert smsc.wait(PHONE, 1)[0].parts == 2
    assert [s["registered_delivery"] for s in smsc.submits] == [1, 1]  # a worker's SMS asks for its receipts
    assert _wait_status(channel, "delivered") == "delivered"


def _status(services: runtime.Services) -> str:
    with services.db() as db:
        return str(db.scalar(select(OutboundMessage.delivery_status).where(OutboundMessage.event_key == "outcome:1")))


def test_a_receipt_by_tlvs_marks_an_sms_undelivered(smsc: Smsc, channel: runtime.Services) -> None:
    smsc.receipts = False
    sender = SmppSender(redis.Redis.from_url(channel.settings.redis_url), "3000", wait_seconds=15)
    provider_id = sender.send(PHONE, "رهگیری: 516700544745")
    with channel.db.begin() as db:
        db.add(
            OutboundMessage(
                event_key="outcome:1",
                to=PHONE,
                body="x",
                status="sent",
                provider="smpp",
                provider_id=provider_id,
                created_at=utcnow(),
            )
        )
    smsc.deliver(
        {
            "source_addr": RAW,
            "destination_addr": "3000",
            "esm_class": 0x04,
            "short_message": b"",
            "tlvs": [Tlv(RECEIPTED_MESSAGE_ID, provider_id.encode() + b"\0"), Tlv(MESSAGE_STATE, bytes([5]))],
        }
    )
    assert _wait_status(channel, "undelivered") == "undelivered"


def test_a_receipt_that_beats_its_submit_answer_and_its_row_is_applied_later(channel: runtime.Services) -> None:
    receipts.keep(channel, "sim77", "DELIVRD", "000")  # no map, no row yet: the applier tries again
    channel.redis.set(part_key("sim77"), "sim76")  # the submit side maps the part to the SMS's first part
    with channel.db.begin() as db:
        db.add(
            OutboundMessage(
                event_key="outcome:1",
                to=PHONE,
                body="x",
                status="sent",
                provider="smpp",
                provider_id="sim76",
                created_at=utcnow(),
            )
        )
    assert _wait_status(channel, "delivered") == "delivered"  # the applier thread tries kept receipts again


def _wait_status(services: runtime.Services, wanted: str, timeout: float = 15) -> str:
    """The outcome row's status once it is `wanted`, or the last one seen after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (status := _status(services)) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    return status
