"""A reviewer's decision on a flagged request: one compare-and-set status change, recorded with who and when,
and exactly one SMS owed in the same transaction, then handed to the worker to deliver."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from adapters.cis import REQUEST_KEYS, Submission
from adapters.http import OutsideSystemError, OutsideSystemUnavailable
from sms_gateway import runtime
from sms_gateway.desk.users import audit
from sms_gateway.jobs import outcome_text
from sms_gateway.outbox import delivery_job_id
from storage import repository
from storage.models import Request
from storage.staff import DeskDecision

log = logging.getLogger("kontor.desk")
LOCK_SECONDS = 120  # longer than the subscriber system's timeout with retries
ACTIONS = {"approve": "bill_issued", "reread": "read_again", "reject": "rejected"}
REASONS = {
    "approve": ("",),
    "reread": ("reread_unclear", "reread_register", "reread_date"),
    "reject": ("reading_not_credible", "duplicate_request", "meter_inspection"),
}


@dataclass(frozen=True)
class Result:
    """done: this reviewer's decision is the one; else why not (already_decided, bill_failed, not_found)."""

    done: bool
    code: str


def payload(row: Request) -> dict[str, Any]:
    """The request as the subscriber system's contract carries it."""
    data = {key: getattr(row, key) for key in REQUEST_KEYS if key != "reading_date"}
    return data | {"reading_date": row.reading_date.isoformat()}


def decide(
    services: runtime.Services, request_id: int, action: str, reason: str, note: str, actor: str, now: datetime
) -> Result:
    """Approve (the subscriber system issues the bill), ask to read again, or reject; the first reviewer wins.

    A short Redis lock keeps a second reviewer out while the first one's bill is being issued (so a bill is never
    issued for a request another reviewer rejects); the compare-and-set in SQL is what guarantees one decision."""
    if action not in ACTIONS or reason not in REASONS[action]:
        raise ValueError(f"unknown action or reason: {action} {reason}")
    lock = services.redis.lock(f"kontor:desk:deciding:{request_id}", timeout=LOCK_SECONDS, blocking=False)
    try:
        if not lock.acquire():
            return Result(False, "being_decided")
    except RedisError as exc:
        log.error("no decision without the deciding lock: %s", exc)
        return Result(False, "try_later")
    try:
        return _decide(services, request_id, action, reason, note, actor, now)
    finally:
        with contextlib.suppress(RedisError):  # expired or Redis gone: the lock lapses on its own
            lock.release()


def _decide(
    services: runtime.Services, request_id: int, action: str, reason: str, note: str, actor: str, now: datetime
) -> Result:
    with services.db() as db:
        row = db.get(Request, request_id)
        if row is None:
            return Result(False, "not_found")
        if row.status != "under_review":
            return Result(False, "already_decided")
        snapshot = payload(row)
    bill = None
    if action == "approve":
        try:
            bill = services.cis.issue_bill(snapshot)  # idempotent by tracking number: a lost race costs nothing
        except (OutsideSystemError, OutsideSystemUnavailable) as exc:
            log.error("the subscriber system did not issue the bill of %s: %s", snapshot["tracking_number"], exc)
            return Result(False, "bill_failed")
    message_id = _record(services, request_id, action, reason, note, actor, now, bill)
    if message_id is None:
        return Result(False, "already_decided")
    _hand_over(services, message_id, snapshot["tracking_number"])
    return Result(True, "decided")


def _record(
    services: runtime.Services,
    request_id: int,
    action: str,
    reason: str,
    note: str,
    actor: str,
    now: datetime,
    bill: Submission | None,
) -> int | None:
    """The compare-and-set, the history, the decision, the audit line and the owed SMS: all or nothing."""
    status = ACTIONS[action]
    values: dict[str, Any] = {}
    if bill is not None:
        values |= {
            "bill_amount": bill.amount_rials,
            "payment_id": bill.payment_id or "",
            "consumption": bill.consumption,
        }
    with services.db.begin() as db:
        if not repository.change_status(db, request_id, "under_review", status, reason, now, **values):
            return None  # the compare-and-set lost: another reviewer decided first
        row = db.get(Request, request_id)
        assert row is not None
        db.add(
            DeskDecision(
                request_id=request_id,
                action=action,
                status=status,
                reason=reason,
                note=note[:1000],
                amount=values.get("bill_amount"),
                payment_id=values.get("payment_id", ""),
                decided_by=actor,
                decided_at=now,
            )
        )
        audit(db, actor, "decision", row.tracking_number, f"{action} {reason}".strip(), now)
        text = outcome_text(services, row)  # the row as the compare-and-set left it: status, reason, bill
        return repository.owe_message(db, f"decision:{row.dialog_id}", row.mobile, text, now).id


def _hand_over(services: runtime.Services, message_id: int, tracking: str) -> None:
    """The worker delivers it, with retries; the row stays owed (pending) if Redis is down right now."""
    try:
        runtime.enqueue(services, "sms_gateway.outbox.deliver", message_id, delivery_job_id(message_id))
    except RedisError as exc:
        log.error("decision SMS %s owed but not queued yet: %s", message_id, exc)
