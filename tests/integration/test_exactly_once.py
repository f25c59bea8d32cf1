"""Issue 11 items 1, 2, 4, 5 on real Redis, real SQL (SQLite; PostgreSQL when set) and twilio's REST client against
the stand-in: one decision per request, a request and its SMS commit together, a send is claimed before the
gateway call and reconciled before any resend, an account error holds the message."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from adapters import clock
from adapters.senders import AccountError, UncertainSendError
from dialogs.request import ConfirmedRequest
from sms_gateway import cli, jobs, outbox, runtime
from sms_gateway.outbox import delivery_job_id
from sms_gateway.worker import beat
from storage import repository
from storage.db import make_engine, session_factory, upgrade
from storage.models import OutboundMessage, Request, StatusChange
from tests.integration.conftest import new_phone
from tests.support.hook import confirmed_payload


def history(services: runtime.Services, dialog_id: str) -> tuple[str, list[str]]:
    with services.db() as db:
        row = db.scalars(select(Request).where(Request.dialog_id == dialog_id)).one()
        query = select(StatusChange.status).where(StatusChange.request_id == row.id)
        return row.status, list(db.scalars(query.order_by(StatusChange.id)))


def message(services: runtime.Services, event_key: str) -> OutboundMessage:
    with services.db() as db:
        return db.scalars(select(OutboundMessage).where(OutboundMessage.event_key == event_key)).one()


# item 1 ------------------------------------------------------------------------------------------------------


def test_two_deciders_at_once_make_one_decision(world) -> None:
    """Two copies of the follow-up decide differently at the same moment: one wins, its SMS is the only one."""
    services, twilio = world
    decisions = [jobs.Decision("bill_issued", "", 1_234_000, "99887766"), jobs.Decision("rejected", "person_not_found")]
    for _ in range(6):
        mobile = new_phone()
        payload = confirmed_payload(mobile)
        jobs.finish_request(payload)
        barrier, results = threading.Barrier(2), []

        def decide(decision: jobs.Decision, dialog_id: str, b: threading.Barrier, out: list[str]) -> None:
            b.wait(5)
            out.append(jobs.record(services, dialog_id, [], decision))

        args = [(d, payload["dialog_id"], barrier, results) for d in decisions]
        threads = [threading.Thread(target=decide, args=a) for a in args]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        final, changes = history(services, payload["dialog_id"])
        assert changes == ["received", final] and results == [final, final], (changes, results)
        outcome = [b for b in twilio.to(mobile) if "Tracking" not in b and "رهگیری" not in b]
        assert len(outcome) == 1 and (("99887766" in outcome[0]) == (final == "bill_issued")), outcome


# item 2 ------------------------------------------------------------------------------------------------------


class Abort(Exception):
    pass


def test_a_request_and_its_sms_commit_together(database_url: str) -> None:
    """Nobody sees the request before the outer commit; an abort leaves neither the request nor its SMS."""
    upgrade(database_url)
    engine, observer = make_engine(database_url), create_engine(database_url)
    factory, now = session_factory(engine), clock.utcnow()
    payload = confirmed_payload(new_phone())

    def count(table: str) -> int:
        with observer.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    try:
        with pytest.raises(Abort), factory.begin() as db:
            confirmed = ConfirmedRequest.from_json(payload)
            row, created = repository.store_request(db, confirmed, jobs.new_tracking_number, now)
            assert created and count("requests") == 0  # another connection does not see it yet
            repository.owe_message(db, f"tracking:{row.dialog_id}", row.mobile, "tracking", now)
            assert count("requests") == 0 and count("outbound_messages") == 0
            raise Abort  # the job dies before its commit
        assert count("requests") == 0 and count("outbound_messages") == 0
    finally:
        engine.dispose()
        observer.dispose()


# item 4 ------------------------------------------------------------------------------------------------------


def owe(services: runtime.Services, mobile: str, body: str) -> int:
    with services.db.begin() as db:
        return repository.owe_message(db, f"test:{uuid.uuid4().hex}", mobile, body, clock.utcnow()).id


def test_the_claim_is_committed_before_the_gateway_call(world) -> None:
    services, twilio = world
    seen: list[tuple[str, str]] = []
    observer = create_engine(services.settings.database_url)

    def look(_: dict[str, str]) -> None:
        with observer.connect() as conn:
            seen.append(tuple(conn.execute(text("SELECT status, claimed_by FROM outbound_messages")).one()))

    twilio.on_accept = look
    outbox.deliver(owe(services, new_phone(), "claimed first"))
    observer.dispose()
    assert seen and seen[0][0] == "sending" and seen[0][1], seen


def test_a_send_whose_answer_was_lost_is_found_not_sent_again(world) -> None:
    """The gateway accepted, the answer never came (a read timeout): uncertain, then found at the gateway."""
    services, twilio = world
    mobile = new_phone()
    services.sms.client.http_client.timeout = 0.5
    twilio.on_accept = lambda _: time.sleep(1.5)
    message_id = owe(services, mobile, "answer lost")
    with pytest.raises(UncertainSendError):
        outbox.deliver(message_id)
    twilio.on_accept = None
    with services.db() as db:
        assert db.get_one(OutboundMessage, message_id).status == "uncertain"
    outbox.deliver(message_id)  # RQ's retry
    with services.db() as db:
        row = db.get_one(OutboundMessage, message_id)
    assert row.status == "sent" and row.provider_id.startswith("SM") and twilio.to(mobile) == ["answer lost"]


def claim_as(services: runtime.Services, message_id: int, name: str) -> None:
    with services.db.begin() as db:
        row = db.get_one(OutboundMessage, message_id)
        row.status, row.claimed_by, row.claimed_at = "sending", name, clock.utcnow()


def test_a_dead_claimers_message_is_reconciled_then_sent_once(world) -> None:
    services, twilio = world
    accepted, unknown = new_phone(), new_phone()
    first, second = owe(services, accepted, "reached twilio"), owe(services, unknown, "never left")
    services.sms.send(accepted, "reached twilio")  # the dead worker's send that the gateway accepted
    for message_id in (first, second):
        claim_as(services, message_id, "kontor.gone.1.dead")  # no heartbeat: that worker is dead
        outbox.deliver(message_id)
    assert twilio.to(accepted) == ["reached twilio"] and twilio.to(unknown) == ["never left"]
    with services.db() as db:
        assert {db.get_one(OutboundMessage, i).status for i in (first, second)} == {"sent"}


def test_a_live_claimers_message_is_left_to_it(world) -> None:
    services, twilio = world
    mobile = new_phone()
    message_id = owe(services, mobile, "being sent")
    beat(services.redis, "kontor.alive.1.beats")
    claim_as(services, message_id, "kontor.alive.1.beats")
    outbox.deliver(message_id)  # a duplicate job while the claimer is inside its send
    assert twilio.to(mobile) == []
    with services.db() as db:
        assert db.get_one(OutboundMessage, message_id).status == "sending"


# item 5 ------------------------------------------------------------------------------------------------------


def test_a_401_holds_the_message_loudly_then_sends_it(world, caplog: pytest.LogCaptureFixture) -> None:
    services, twilio = world
    mobile = new_phone()
    message_id = owe(services, mobile, "after the token is fixed")
    twilio.refuse_until = time.monotonic() + 60  # a rotated token
    with caplog.at_level(logging.ERROR, logger="kontor.outbox"), pytest.raises(AccountError):
        outbox.deliver(message_id)
    assert any("twilio" in r.getMessage() and "20003" in r.getMessage() for r in caplog.records), caplog.text
    with services.db() as db:
        assert db.get_one(OutboundMessage, message_id).status == "pending"
    twilio.refuse_until = 0.0  # fixed
    outbox.deliver(message_id)  # RQ's retry
    assert twilio.to(mobile) == ["after the token is fixed"]


def test_kontor_outbox_lists_failed_messages_and_resends_them(world, capsys: pytest.CaptureFixture[str]) -> None:
    services, twilio = world
    mobile = new_phone()
    message_id = owe(services, mobile, "to a number fixed later")
    twilio.fail_next = [400]  # 21610: about the message itself
    outbox.deliver(message_id)
    config = str(Path(services.settings.data_dir).parent / "config.yaml")
    assert cli.main(["outbox", "failed", "--config", config]) == 0
    listed = capsys.readouterr().out
    assert f"{message_id}\t" in listed and mobile not in listed and mobile[-4:] in listed, listed
    assert cli.main(["outbox", "resend", str(message_id), "--config", config]) == 0
    with services.db() as db:
        assert db.get_one(OutboundMessage, message_id).status == "pending"
    assert services.queue.count >= 1  # handed to the worker; deliver as the worker would
    assert delivery_job_id(message_id) in services.queue.job_ids  # the one delivery job id: the sweep adds none
    outbox.deliver(message_id)
    assert twilio.to(mobile) == ["to a number fixed later"]
    assert cli.main(["outbox", "resend", "999999", "--config", config]) == 2


def test_twilio_find_asks_the_message_list_by_number_and_date(world) -> None:
    """Sender.find over GET Messages.json with To, From and DateSent>, matched by the body."""
    services, _ = world
    mobile, now = new_phone(), datetime.now(UTC)
    sid = services.sms.send(mobile, "listed")
    assert services.sms.find(mobile, "listed", now - timedelta(days=1)) == sid
    assert services.sms.find(mobile, "another body", now - timedelta(days=1)) is None
    assert services.sms.find(new_phone(), "listed", now - timedelta(days=1)) is None
    assert services.sms.find(mobile, "listed", now + timedelta(days=2)) is None  # sent before that day
