"""RQ job entry points: importable functions of JSON-safe arguments, safe to run twice."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.cis import wire_request
from adapters.clock import utcnow
from adapters.http import OutsideSystemError
from dialogs.ids import make_tracking_number
from dialogs.request import ConfirmedRequest
from sms_gateway import bootstrap, counters, runtime
from sms_gateway.outbox import UNFINISHED, claimer, deliver
from sms_gateway.outbox_batch import deliver_all
from sms_gateway.worker import is_alive
from storage import repository
from storage.models import OutboundMessage, Request

log = logging.getLogger("kontor.jobs")
DRAIN_SECONDS = 30  # a batch job drains this long at most, then queues the next (other jobs get a turn)
DRAINING = threading.Lock()  # held while this process runs a batch job (its heartbeat reads it)


def new_tracking_number() -> str:
    """12 digits: 11 random (not sequential, not guessable) and a Damm check digit that catches typos."""
    return make_tracking_number(f"{secrets.randbelow(9 * 10**10) + 10**10}")


def job_id(kind: str, dialog_id: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "_", dialog_id)


@dataclass(frozen=True)
class Stored:
    """A request as stored, with the tracking SMS it owes."""

    dialog_id: str
    tracking: str
    status: str
    message_id: int
    created: bool


@counters.timed
def finish_request(payload: dict[str, Any]) -> str:
    """One confirmed request on its own (a request a batch could not finish): the same steps as a batch's.

    `payload` is ConfirmedRequest.to_json(): RQ keeps job arguments as plain data."""
    services = bootstrap.services()
    [done] = store(services, [ConfirmedRequest.from_json(payload)])
    follow_up(services, [done])
    deliver(done.message_id)  # a transient error raises: RQ retries the job, every step above is idempotent
    return done.tracking


@counters.timed
def finish_confirmed(_job_id: str = "") -> int:
    """The batch job: drain the confirmed requests' inbox (sms_gateway/confirmed.py), `worker.batch_size` at a
    time, each batch stored in one transaction and its tracking SMS sent concurrently; returns how many.

    A batch this job could not finish (Redis away mid-batch) stays taken by this worker: its heartbeat gives it
    back to the inbox once no batch job runs here (DRAINING), and a dead worker's is given back by the others."""
    services, me = bootstrap.services(), claimer()
    inbox, size = services.inbox, services.settings.worker.batch_size
    finished, until = 0, time.monotonic() + DRAIN_SECONDS
    with DRAINING:
        inbox.started()  # a request pushed from now on queues a job of its own; one pushed before is drained here
        while batch := inbox.take(me, size):
            finish_batch(services, batch)
            inbox.done(me)
            finished += len(batch)
            if time.monotonic() > until:  # other jobs of the main queue get their turn; a new job goes on
                inbox.kick()
                break
    return finished


def recover_confirmed(services: runtime.Services, me: str) -> int:
    """The heartbeat's sweep of the inbox: dead workers' batches back, ours too when no batch job runs here (a
    batch cut short by a Redis outage), then a job for whatever waits (one lost in a fail-over costs one sweep)."""
    moved = services.inbox.give_back_dead(is_alive(services.redis))
    if DRAINING.acquire(blocking=False):  # held by a running batch job: its batch is not left over
        try:
            moved += services.inbox.give_back(me)
        finally:
            DRAINING.release()
    if moved or services.inbox.waiting():
        services.inbox.kick()
    return moved


def finish_batch(services: runtime.Services, batch: list[str]) -> None:
    """Store a batch in one transaction, queue its follow-ups, then send its tracking SMS concurrently.

    A request that cannot be read, or a transaction that fails, sends its requests to jobs of their own
    (finish_request, retried with backoff and kept in `kontor jobs failed`): one bad request never holds back
    the others, and a request is stored once however many times it is tried (its dialog id is unique)."""
    requests, unreadable = _readable(batch)
    if unreadable:
        hand_off(services, unreadable)
    try:
        done = store(services, requests)
    except Exception as exc:  # noqa: BLE001 - whatever it is, each request goes on alone and a failure shows there
        log.error("a batch of %d request(s) could not be stored (%s): each goes on alone", len(requests), exc)
        hand_off(services, [r.to_json() for r in requests])
        return
    follow_up(services, done)
    deliver_all(services, [d.message_id for d in done])


def _readable(batch: list[str]) -> tuple[list[ConfirmedRequest], list[Any]]:
    """The batch's requests, one per dialog id (a repeated `1` may push one twice), and those that cannot be read."""
    requests: dict[str, ConfirmedRequest] = {}
    unreadable: list[Any] = []
    for raw in batch:
        data: Any = raw
        try:
            data = json.loads(raw)
            request = ConfirmedRequest.from_json(data)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("a confirmed request cannot be read (%s): kept in a job of its own", exc)
            unreadable.append(data if isinstance(data, dict) else raw)
            continue
        requests.setdefault(request.dialog_id, request)
    return list(requests.values()), unreadable


def hand_off(services: runtime.Services, payloads: list[Any]) -> None:
    """Requests to finish one job each (the job id is the dialog's, so a request handed twice runs once)."""
    pipe = services.redis.pipeline()
    for payload in payloads:
        dialog = payload.get("dialog_id", "") if isinstance(payload, dict) else ""
        name = job_id("finish", dialog) if dialog else f"finish-unreadable-{secrets.token_hex(6)}"
        runtime.enqueue(services, "sms_gateway.jobs.finish_request", payload, name, pipeline=pipe)
    pipe.execute()


def store(services: runtime.Services, requests: list[ConfirmedRequest]) -> list[Stored]:
    """Store each request once and owe its tracking SMS, all in one transaction: a few statements per batch, or,
    after a clash (another worker storing the same dialog that moment, a tracking number drawn twice), one savepoint
    per request."""
    try:
        out = _store(services, requests, repository.store_requests)
    except IntegrityError:
        log.warning("a clash in a batch of %d request(s): stored one by one", len(requests))
        out = _store(services, requests, _one_by_one)
    for done in out:
        log.info("request %s %s", done.tracking, "stored" if done.created else "already stored")
    return out


def _one_by_one(
    db: Session, requests: list[ConfirmedRequest], tracking: Callable[[], str], now: datetime
) -> list[tuple[Request, bool]]:
    return [repository.store_request(db, r, tracking, now) for r in requests]


def _store(
    services: runtime.Services,
    requests: list[ConfirmedRequest],
    how: Callable[[Session, list[ConfirmedRequest], Callable[[], str], datetime], list[tuple[Request, bool]]],
) -> list[Stored]:
    now, cat = utcnow(), services.rules.catalogue
    with services.db.begin() as db:
        rows = how(db, requests, new_tracking_number, now)
        owed = [
            (
                f"tracking:{row.dialog_id}",
                row.mobile,
                cat.text("tracking_sms", row.language, tracking=row.tracking_number),
            )
            for row, _ in rows
        ]
        messages = repository.owe_messages(db, owed, now)
        return [
            Stored(row.dialog_id, row.tracking_number, row.status, message.id, created)
            for (row, created), message in zip(rows, messages, strict=True)
        ]


def follow_up(services: runtime.Services, done: list[Stored]) -> None:
    """Queue the follow-up of each request still `received`, in one round trip, before any SMS is sent:
    a gateway that stays down must not hold back identity and the bill."""
    waiting = [d for d in done if d.status == "received"]
    if not waiting:
        return
    pipe = services.redis.pipeline()
    for d in waiting:
        name = job_id("process", d.dialog_id)
        runtime.enqueue(services, "sms_gateway.jobs.process_request", d.dialog_id, name, services.followup, pipe)
    pipe.execute()


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
    cat, lang = services.rules.catalogue, row.language
    if row.status == "bill_issued":
        return cat.text(
            "sms_bill_issued",
            lang,
            tracking=row.tracking_number,
            amount=f"{row.bill_amount:,}",
            payment_id=row.payment_id,
        )
    if row.status == "rejected":
        return cat.text(
            "sms_rejected", lang, tracking=row.tracking_number, reason=cat.text(f"reason_{row.status_reason}", lang)
        )
    return cat.text("sms_under_review", lang, tracking=row.tracking_number)
