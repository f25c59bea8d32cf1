"""Each demo subscriber's whole conversation over SMPP through real processes: the SMSC simulator on loopback,
`kontor smpp` (bound as a transceiver), `kontor worker` with `outbound.gateway: smpp` and the sandboxes; no web.
The link is dropped mid-dialog; the tracking number and the bill arrive by SMPP; INQUIRE answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml
from sqlalchemy import create_engine, select

from storage.models import OutboundMessage
from tests.e2e.test_conversation import CAT, DEMO, export, tracking_in
from tests.support.smsc import Mt, Smsc, account, settle
from tests.support.stack import DATABASES, POSTGRES, Stack, free_port, reset_database, write_config


@pytest.fixture(scope="module", params=DATABASES)
def smpp_stack(
    request: pytest.FixtureRequest, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Smsc]]:
    smsc = Smsc().start()
    folder: Path = tmp_path_factory.mktemp("smpp")
    redis.Redis.from_url(redis_server).flushall()
    database_url = POSTGRES if request.param == "postgresql" else f"sqlite:///{folder / 'kontor.db'}"
    if request.param == "postgresql":
        reset_database(POSTGRES)
    overrides = account(smsc, outbound__gateway="smpp", smpp__enquire_link_seconds=2)
    config = write_config(folder, redis_server, database_url, None, free_port(), **overrides)
    stack = Stack(config, 0, "")
    try:
        stack.start("sandbox", "worker", "smpp")
        assert smsc.wait_bound(30), "kontor smpp did not bind:\n" + stack.log("smpp")
        yield stack, smsc
    finally:
        stack.stop()
        smsc.stop()


def say(smsc: Smsc, phone: str, text: str, expect: str = "", timeout: float = 30) -> Mt:
    """One MO from the phone; the first new MT to it (containing `expect`)."""
    before = len(smsc.messages(phone))
    smsc.mo(phone.lstrip("+"), text)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [m for m in smsc.messages(phone)[before:] if expect in m.text]
        if new:
            return new[0]
        time.sleep(0.05)
    raise AssertionError(f"no reply with {expect!r} to {text!r}; got {[m.text for m in smsc.messages(phone)]}")


def wait_text(smsc: Smsc, phone: str, start: str, timeout: float = 40) -> Mt:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in smsc.messages(phone) if m.text.startswith(start)]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no SMS starting {start!r} to {phone}; got {[m.text for m in smsc.messages(phone)]}")


def test_each_demo_subscriber_over_smpp(smpp_stack: tuple[Stack, Smsc]) -> None:
    stack, smsc = smpp_stack
    redis_url = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["redis"]["url"]
    for name, (phone, answers, readings) in DEMO.items():
        say(smsc, phone, "قرائت", "شناسه قبض")
        for i, answer in enumerate(answers):
            if i == 2:
                settle(redis_url)
                smsc.drop(down_seconds=1.0)  # the link breaks mid-dialog; nothing is lost
            last = say(smsc, phone, answer)
        assert all(value in last.text for value in readings.values()), (name, [m.text for m in smsc.messages(phone)])
        assert last.data_coding == 8 and last.parts >= 2  # the Persian summary, in concatenated parts
        say(smsc, phone, "1", "ثبت شد")
        tracking_sms = wait_text(smsc, phone, CAT.text("tracking_sms", "fa", tracking="")[:20])
        tracking = tracking_in(tracking_sms.text)
        assert tracking_sms.text == CAT.text("tracking_sms", "fa", tracking=tracking)
        status = say(smsc, phone, f"پیگیری {tracking}", tracking)
        assert status.text.startswith(tracking) or tracking in status.text
        _wait_delivered(stack, tracking)
        record = next(r for r in json.loads(export(stack)) if r["tracking_number"] == tracking)
        assert record["channel"] == "smpp" and record["mobile"] == phone


def _wait_delivered(stack: Stack, tracking: str, timeout: float = 20) -> None:
    """The tracking SMS went through SMPP: its row has the SMSC's id, and the receipt marked it delivered."""
    url = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"]
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as db:
                row = db.execute(
                    select(
                        OutboundMessage.provider,
                        OutboundMessage.provider_id,
                        OutboundMessage.status,
                        OutboundMessage.delivery_status,
                    )
                    .where(OutboundMessage.body.contains(tracking))
                    .order_by(OutboundMessage.id)
                ).first()
            if row is not None and row.delivery_status == "delivered":
                assert (row.provider, row.status) == ("smpp", "sent") and row.provider_id.startswith("sim")
                return
            time.sleep(0.2)
        raise AssertionError(f"tracking SMS of {tracking} not delivered: {row}")
    finally:
        engine.dispose()
