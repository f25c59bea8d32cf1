"""The worker's jobs, run in-process on real Redis, SQLite, the HTTP sandboxes and twilio's REST client
against the local stand-in: an owed SMS is never dropped by a retry, and no request is left undecided."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters import clock, sandbox
from adapters.senders import TransientSendError
from sms_gateway import bootstrap, jobs, runtime
from storage.models import Request
from tests.support.hook import installed_services
from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN, free_port
from tests.support.twilio_standin import TwilioStandIn

PHONE = "+989121234567"


@pytest.fixture()
def world(tmp_path: Path, redis_server: str) -> Iterator[tuple]:
    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    services = installed_services(
        tmp_path, redis_server, twilio.url, sandbox__port=free_port(), outbound__per_sender_per_second=1000
    )
    box = sandbox.start(services.settings)
    yield services, twilio
    box.stop()
    twilio.stop()
    bootstrap.uninstall()


def request(bill: str = "1234567804121") -> dict:
    now = clock.tehran_now()  # the sandbox's last reading is 30 days before today
    return {
        "dialog_id": "SM" + uuid.uuid4().hex,
        "bill_id": bill,
        "national_id": "0012345679",
        "mobile": PHONE,
        "readings": {"mid": "04620"},
        "reading_date": now.date().isoformat(),
        "description": "",
        "receipt_reference": "",
        "attachments": [],
        "language": "fa",
        "registers": ["mid"],
        "confirmed_at": now.isoformat(),
    }


def status(services: runtime.Services, dialog_id: str) -> tuple[str, str]:
    with services.db() as db:
        row = db.scalar(select(Request).where(Request.dialog_id == dialog_id))
        return row.status, row.status_reason


def test_an_outcome_sms_that_failed_once_is_sent_by_the_retry(world) -> None:
    services, twilio = world
    payload = request()
    jobs.finish_request(payload)
    twilio.fail_next.append(500)  # the outcome SMS meets a busy gateway
    with pytest.raises(TransientSendError):
        jobs.process_request(payload["dialog_id"])
    assert status(services, payload["dialog_id"])[0] == "bill_issued" and len(twilio.to(PHONE)) == 1
    jobs.process_request(payload["dialog_id"])  # RQ's retry
    sent = twilio.to(PHONE)
    assert len(sent) == 2 and "شناسه پرداخت" in sent[1]
    jobs.process_request(payload["dialog_id"])  # and once more: nothing sent twice
    assert len(twilio.to(PHONE)) == 2


def test_the_follow_up_is_queued_even_when_the_tracking_sms_fails(world) -> None:
    services, twilio = world
    twilio.fail_next.append(503)
    with pytest.raises(TransientSendError):
        jobs.finish_request(request())
    assert services.followup.count == 1


def test_a_request_the_subscriber_system_refuses_for_good_goes_to_a_person(world) -> None:
    services, twilio = world
    payload = request(bill="9876543204124")  # a valid electricity bill ID the system does not know
    jobs.finish_request(payload)
    assert jobs.process_request(payload["dialog_id"]) == "under_review"
    assert status(services, payload["dialog_id"]) == ("under_review", "subscriber_system_refused")
    assert "بررسی" in twilio.to(PHONE)[-1]
