"""The worker's jobs, run in-process on real Redis, SQLite, the HTTP sandboxes and twilio's REST client
against the local stand-in: an owed SMS is never dropped by a retry, and no request is left undecided."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.senders import TransientSendError
from sms_gateway import jobs, runtime
from storage.models import Request
from tests.support.hook import confirmed_payload

PHONE = "+989121234567"


def status(services: runtime.Services, dialog_id: str) -> tuple[str, str]:
    with services.db() as db:
        row = db.scalar(select(Request).where(Request.dialog_id == dialog_id))
        return row.status, row.status_reason


def test_an_outcome_sms_that_failed_once_is_sent_by_the_retry(world) -> None:
    services, twilio = world
    payload = confirmed_payload(PHONE, language="fa")
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
        jobs.finish_request(confirmed_payload(PHONE, language="fa"))
    assert services.followup.count == 1


def test_a_request_the_subscriber_system_refuses_for_good_goes_to_a_person(world) -> None:
    services, twilio = world
    unknown = "9876543204124"  # a valid electricity bill ID the system does not know
    payload = confirmed_payload(PHONE, bill=unknown, language="fa")
    jobs.finish_request(payload)
    assert jobs.process_request(payload["dialog_id"]) == "under_review"
    assert status(services, payload["dialog_id"]) == ("under_review", "subscriber_system_refused")
    assert "بررسی" in twilio.to(PHONE)[-1]
