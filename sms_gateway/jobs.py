"""RQ job entry points: importable functions of JSON-safe arguments, safe to run twice."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from adapters.cis import wire_request
from adapters.clock import utcnow
from adapters.http import OutsideSystemError
from dialogs.ids import make_tracking_number
from dialogs.request import ConfirmedRequest
from sms_gateway import bootstrap, counters, runtime
from sms_gateway.outbox import UNFINISHED, deliver
from storage import repository
from storage.models import OutboundMessage, Request

log = logging.getLogger("kontor.jobs")


def new_tracking_number() -> str:
    """12 digits: 11 random (not sequential, not guessable) and a Damm check digit that catches typos."""
    return make_tracking_number(f"{secrets.randbelow(9 * 10**10) + 10**10}")


def job_id(kind: str, dialog_id: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "_", dialog_id)


@counters.timed
def finish_request(payload: dict[str, Any]) -> str:
    """One confirmed request on its own (a request a batch could not finish): the same steps as a batch's.

    `payload` is ConfirmedRequest.to_json(): RQ keeps job arguments as plain data."""
    from sms_gateway.batches import follow_up, store  # here: that module imports this one

    services = bootstrap.services()
    [done] = store(services, [ConfirmedRequest.from_json(payload)])
    follow_up(services, [done])
    deliver(done.message_id)  # a transient error raises: RQ retries the job, every step above is idempotent
    return done.tracking


@dataclass
class Decision:
    status: str
    reason: str = ""
    amount: int | None = None
    payment_id: str = ""
    consumption: dict[str, float] = field(default_factory=dict)


@counters.timed
def process_request(dialog_id: str) -> str:
    """Keep the MMS media, verify who asks, submit the readings; an outside system down means a retry later."""
    services = bootstrap.services()
    with services.db() as db:
        row: Request | None = db.scalar(select(Request).where(Request.dialog_id == dialog_id))
        if row is None:
            return "missing"
        request, tracking, status = repository.request_of(row), row.tracking_number, row.status
    if status != "received":  # decided already: make sure its outcome SMS went out
        _deliver_owed(services, f"outcome:{dialog_id}")
        return status
    attachments = [services.media.keep(item) for item in request.to_json()["attachments"]]
    decision = decide(services, tracking, request, attachments)
    return record(services, dialog_id, attachments, decision)


def _deliver_owed(services: runtime.Services, event_key: str) -> None:
    """Deliver an owed message still on its way (read in a transaction of its own, closed before the send)."""
    with services.db() as db:
        message_id = db.scalar(
            select(OutboundMessage.id).where(
                OutboundMessage.event_key == event_key, OutboundMessage.status.in_(UNFINISHED)
            )
        )
    if message_id is not None:
        deliver(message_id)


def decide(
    services: runtime.Services, tracking: str, request: ConfirmedRequest, attachments: list[dict[str, Any]]
) -> Decision:
    """Identity first, then the bill; a system that refuses the request for good sends it to a person."""
    try:
        return _decide(services, tracking, request, attachments)
    except OutsideSystemError as exc:
        log.error("%s refused request %s for good: %s", exc.system, tracking, exc)
        return Decision("under_review", f"{exc.system}_refused")


def _decide(
    services: runtime.Services, tracking: str, request: ConfirmedRequest, attachments: list[dict[str, Any]]
) -> Decision:
    person = services.registry.person(request.national_id)
    if not person.found:
        return Decision("rejected", "person_not_found")
    if not person.alive:
        return Decision("rejected", "person_deceased")
    if not services.ownership.owner_matches(request.mobile, request.national_id):
        return Decision("rejected", "mobile_not_owner")
    answer = services.cis.submit(wire_request(tracking, request, attachments))
    return Decision(answer.status, answer.reason, answer.amount_rials, answer.payment_id or "", answer.consumption)


def record(services: runtime.Services, dialog_id: str, attachments: list[dict[str, Any]], decision: Decision) -> str:
    """One status change (a compare-and-set) and the outcome SMS of the status that won, however many copies of
    the follow-up decide at once: a loser sends nothing of its own and only sees the winner's SMS delivered."""
    now = utcnow()
    with services.db.begin() as db:
        row = db.scalars(select(Request).where(Request.dialog_id == dialog_id)).one()
        won = repository.change_status(
            db,
            row.id,
            "received",
            decision.status,
            decision.reason,
            now,
            attachments=attachments,
            consumption=decision.consumption,
            bill_amount=decision.amount,
            payment_id=decision.payment_id,
        )
        if won:
            message_id = repository.owe_message(
                db, f"outcome:{dialog_id}", row.mobile, outcome_text(services, row), now
            ).id
        if not won:  # another copy decided: read what it wrote (the winner's row was reloaded by the CAS)
            db.refresh(row)
        status = row.status
    if won:
        deliver(message_id)
    else:
        log.warning("request %s was decided by another job (%s): no second decision", row.tracking_number, status)
        _deliver_owed(services, f"outcome:{dialog_id}")
    return status


def outcome_text(services: runtime.Services, row: Request) -> str:
    """The SMS that tells the subscriber how their request ended (the follow-up's decision, or a reviewer's)."""
    cat, lang = services.rules.catalogue, row.language
    if row.status == "bill_issued":
        return cat.text(
            "sms_bill_issued",
            lang,
            tracking=row.tracking_number,
            amount=f"{row.bill_amount:,}",
            payment_id=row.payment_id,
        )
    if row.status in ("rejected", "read_again"):
        key = "sms_rejected" if row.status == "rejected" else "sms_read_again"
        return cat.text(key, lang, tracking=row.tracking_number, reason=cat.text(f"reason_{row.status_reason}", lang))
    return cat.text("sms_under_review", lang, tracking=row.tracking_number)
