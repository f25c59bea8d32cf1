"""Delivering the SMS Kontor owes: sent once as far as the gateway can tell (docs/guarantees.md says how far).

Each owed message (a row of outbound_messages) moves pending -> sending -> sent | failed. `sending` is committed,
with who claimed it, BEFORE the gateway call, and no SQL transaction is open during the call, so a crash or a
timeout after the gateway accepted never rolls the claim back. A message found in `sending` whose claimer is gone
(a dead worker, a stale claim), or `uncertain` (a timeout after the request went out), is first looked up at the
gateway (Sender.find) and sent again only when the gateway has no record of it. A credential or account error
(AccountError) holds the message (back to pending) and is retried with backoff, loudly; only an error about the
message itself (invalid number, opted out) ends it `failed`. Throttling and the opt-out check come before the claim.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import update

from adapters.clock import utcnow
from adapters.senders import AccountError, PermanentSendError, TransientSendError, UncertainSendError
from sms_gateway import bootstrap, counters, runtime
from sms_gateway.throttle import throttle
from sms_gateway.worker import current_worker, is_alive
from storage.models import FAILED, FINISHED, PENDING, SENDING, SENT, SUPPRESSED, UNCERTAIN, OutboundMessage

log = logging.getLogger("kontor.outbox")
THROTTLE_WAIT_SECONDS = 5.0
CLAIM_SECONDS = 180  # longer than a job may run (120 s, then the graces of an interrupted batch: 40 s at most)
RECONCILE_SLACK = timedelta(minutes=10)  # the gateway's clock and ours may differ a little
UNFINISHED = (PENDING, SENDING, UNCERTAIN)


@dataclass(frozen=True)
class Owed:
    """The row as read before any claim: what to send, and who claimed it when."""

    id: int
    status: str
    to: str
    body: str
    claimed_by: str
    claimed_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, m: OutboundMessage) -> Owed:
        return cls(m.id, m.status, m.to, m.body, m.claimed_by, m.claimed_at, m.created_at)


def delivery_job_id(message_id: int) -> str:
    """The one RQ job id that delivers a message, whoever queues it (worker, desk, channel, sweep)."""
    return f"deliver-{message_id}"


def claimer() -> str:
    """Who claims here: the worker's name (it beats in Redis), else this process and thread's own unique name."""
    return current_worker() or f"proc.{socket.gethostname()}.{os.getpid()}.{threading.get_ident()}.{_TOKEN}"


_TOKEN = secrets.token_hex(4)


def claim_is_stale(client: redis.Redis, owed: Owed, now: datetime, me: str | None = None) -> bool:
    """Nobody is sending it now: the claim is ours and no thread of this process is sending it (our own send ended
    unrecorded), its worker no longer beats, or it is older than any job may run (a claimer that is not a worker
    has no heartbeat: time decides). `me` "" = judged from outside any send (the sweep, whose own worker may be
    sending it right now)."""
    if owed.claimed_by == (claimer() if me is None else me):
        return not in_flight(owed.id)  # a thread of ours outliving an interrupted job may still be sending it
    if owed.claimed_at is None or now - owed.claimed_at > timedelta(seconds=CLAIM_SECONDS):
        return True
    return owed.claimed_by.startswith("kontor.") and not is_alive(client)(owed.claimed_by)


_IN_FLIGHT: set[int] = set()  # messages a thread of this process is sending right now
_IN_FLIGHT_LOCK = threading.Lock()


@contextmanager
def sending(message_id: int) -> Iterator[None]:
    """Mark a message as being sent by this process for the time of the send (claim_is_stale reads it)."""
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.add(message_id)
    try:
        yield
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(message_id)


def in_flight(message_id: int) -> bool:
    with _IN_FLIGHT_LOCK:
        return message_id in _IN_FLIGHT


@counters.timed
def deliver(message_id: int) -> None:
    """Send an owed SMS unless it was sent, failed for good or suppressed; transient errors raise so RQ retries."""
    services = bootstrap.services()
    owed = _read(services, message_id)
    if owed is None or owed.status in FINISHED:
        return
    if owed.status == PENDING:
        if services.sessions.opted_out(owed.to):
            close_unsent(services, [message_id], SUPPRESSED, "opted out (STOP)")
            return
        _throttle(services)
        if not _claim(services, owed):
            return
    else:
        if owed.status == SENDING and not claim_is_stale(services.redis, owed, utcnow()):
            return  # its claimer is sending it right now
        if not _claim(services, owed) or _reconciled(services, owed):
            return
    error = _send_claimed(services, owed)
    if error is not None:
        raise error


def _read(services: runtime.Services, message_id: int) -> Owed | None:
    with services.reader() as db:
        m = db.get(OutboundMessage, message_id)
        if m is None:
            return None
        return Owed.of(m)


def _throttle(services: runtime.Services) -> None:
    per_second, prefix = services.settings.outbound.per_sender_per_second, services.sessions.prefix
    throttle(services.redis, services.sms.number, per_second, THROTTLE_WAIT_SECONDS, prefix=prefix)


def _claim(services: runtime.Services, owed: Owed) -> bool:
    """Commit `sending`, claimed by us, before any gateway call: a compare-and-set on the state we read."""
    query = update(OutboundMessage).where(OutboundMessage.id == owed.id, OutboundMessage.status == owed.status)
    if owed.status != PENDING:
        query = query.where(OutboundMessage.claimed_by == owed.claimed_by)
    with services.db.begin() as db:
        return getattr(db.execute(query.values(**claim_values(services))), "rowcount", 0) == 1


def claim_values(services: runtime.Services) -> dict[str, Any]:
    """What a claim writes: `sending`, by us, now, through this gateway, one more attempt."""
    return {
        "status": SENDING,
        "claimed_by": claimer(),
        "claimed_at": utcnow(),
        "provider": services.sms.name,
        "attempts": OutboundMessage.attempts + 1,
    }


def _settle(services: runtime.Services, message_id: int, status: str, **values: Any) -> None:
    """Record how our claimed send ended (only while the claim is still ours)."""
    with services.db.begin() as db:
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id, OutboundMessage.claimed_by == claimer())
            .where(OutboundMessage.status == SENDING)
            .values(status=status, **values)
        )


def _reconciled(services: runtime.Services, owed: Owed) -> bool:
    """Ask the gateway whether it already has the message; True when it does (then recorded sent, not resent)."""
    since = datetime.now(UTC) - (utcnow() - owed.created_at) - RECONCILE_SLACK  # the gateway's clock, not ours
    try:
        found = services.sms.find(owed.to, owed.body, since, local_id=str(owed.id))
    except TransientSendError as exc:
        _settle(services, owed.id, UNCERTAIN, error=f"cannot reconcile yet: {exc}")
        raise
    except Exception:
        _settle(services, owed.id, UNCERTAIN, error="interrupted while reconciling")
        raise
    if found is None:
        log.warning("SMS %s (%s) is unknown to %s: sending it again", owed.id, owed.status, services.sms.name)
        return False
    _settle(services, owed.id, SENT, provider_id=found, sent_at=utcnow(), error="")
    log.warning(
        "SMS %s was already accepted by %s (%s): recorded sent, not sent again", owed.id, services.sms.name, found
    )
    return True


@dataclass(frozen=True)
class Ending:
    """How one claimed send ended, before it is recorded: the row's new status and columns, and the transient error
    that makes the caller try again later (None: sent, or ended for good)."""

    status: str
    values: dict[str, Any]
    error: TransientSendError | None = None


def attempt(services: runtime.Services, owed: Owed) -> Ending:
    """Send a claimed message through the gateway and say how it ended; writes nothing (the caller records it)."""
    name = services.sms.name
    try:
        provider_id = services.sms.send(owed.to, owed.body, local_id=str(owed.id))
    except PermanentSendError as exc:
        log.warning("SMS %s failed for good: %s", owed.id, exc)
        return Ending(FAILED, {"error": str(exc)})
    except AccountError as exc:
        log.error(
            "SMS %s HELD: %s refused Kontor's account (%s); fix the credentials, it is retried", owed.id, name, exc
        )
        return Ending(PENDING, {"error": str(exc)}, exc)
    except UncertainSendError as exc:
        log.warning("SMS %s may have reached %s (%s): asked before any resend", owed.id, name, exc)
        return Ending(UNCERTAIN, {"error": str(exc)}, exc)
    except TransientSendError as exc:
        log.warning("SMS %s not sent yet: %s", owed.id, exc)
        return Ending(PENDING, {"error": str(exc)}, exc)
    return Ending(SENT, {"provider_id": provider_id, "sent_at": utcnow(), "error": ""})


def _send_claimed(services: runtime.Services, owed: Owed) -> TransientSendError | None:
    """Send our claimed message and record the end; a transient error is recorded, then returned to raise."""
    try:
        with sending(owed.id):
            ending = attempt(services, owed)
    except BaseException:  # killed by the job timeout, or a bug: the gateway may have it
        _settle(services, owed.id, UNCERTAIN, error="interrupted during the send")
        raise
    _settle(services, owed.id, ending.status, **ending.values)
    return ending.error


def close_unsent(services: runtime.Services, message_ids: list[int], status: str, reason: str) -> None:
    """Close pending rows without sending them (opted out)."""
    if not message_ids:
        return
    with services.db.begin() as db:
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_(message_ids), OutboundMessage.status == PENDING)
            .values(status=status, error=reason)
        )
    log.info("SMS %s %s: %s", message_ids, status, reason)
