"""A batch's SMS (sms_gateway/batches.py): the outbox's steps, each taken once for the whole batch.

One SELECT reads the batch, one round trip checks opt-outs, one UPDATE claims every message (`sending`, by us,
committed before any gateway call, as for one message), the sends go out `outbound.concurrency` at a time under
the sender number's throttle with no SQL in between, and one UPDATE (many parameter sets) records how each ended.
A message not pending when read (a claim of a dead worker, an uncertain send) takes the one-message path, which
reconciles with the gateway first. One that cannot go now gets a delivery job of its own, retried with backoff.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, wait
from typing import cast

import redis
from sqlalchemy import Table, bindparam, select, update

from adapters.senders import TransientSendError, UncertainSendError
from sms_gateway import runtime
from sms_gateway.outbox import (
    THROTTLE_WAIT_SECONDS,
    Ending,
    Owed,
    attempt,
    claim_values,
    claimer,
    close_unsent,
    delivery_job_id,
    sending,
)
from sms_gateway.pools import pool
from sms_gateway.throttle import Throttled, throttle
from storage.models import PENDING, SENDING, SUPPRESSED, UNCERTAIN, OutboundMessage

log = logging.getLogger("kontor.outbox")
SEND_GRACE_SECONDS = 20.0  # longer than any gateway's read timeout (10 s): a send under way ends within it


def deliver_all(services: runtime.Services, message_ids: list[int]) -> None:
    """Send a batch's owed SMS, each once; those that cannot go now are left to delivery jobs of their own."""
    owed = _read(services, message_ids)
    fresh = [o for o in owed if o.status == PENDING]
    later = [o.id for o in owed if o.status in (SENDING, UNCERTAIN)]  # the one-message path asks the gateway first
    opted = services.sessions.opted_out_many([o.to for o in fresh])
    close_unsent(services, [o.id for o, out in zip(fresh, opted, strict=True) if out], SUPPRESSED, "opted out (STOP)")
    claimed = _claim(services, [o for o, out in zip(fresh, opted, strict=True) if not out])
    endings = _send(services, claimed)
    later += [message_id for message_id, ending in endings.items() if ending.error is not None]
    if later:
        _queue(services, later)


def _read(services: runtime.Services, message_ids: list[int]) -> list[Owed]:
    with services.reader() as db:
        rows = db.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(message_ids)))
        return sorted((Owed.of(m) for m in rows), key=lambda o: o.id)


def _claim(services: runtime.Services, owed: list[Owed]) -> list[Owed]:
    """Every message still pending claimed by us in one statement (a compare-and-set on `pending` for each row);
    those we won, told by RETURNING."""
    if not owed:
        return []
    with services.db.begin() as db:
        won = set(
            db.scalars(
                update(OutboundMessage)
                .where(OutboundMessage.id.in_([o.id for o in owed]), OutboundMessage.status == PENDING)
                .values(**claim_values(services))
                .returning(OutboundMessage.id)
                .execution_options(synchronize_session=False)
            )
        )
    return [o for o in owed if o.id in won]


def _send(services: runtime.Services, claimed: list[Owed]) -> dict[int, Ending]:
    """The sends, concurrently; every one waited for, then every ending recorded in one statement.

    A thread that fails records what it met (a failure before the send: pending; during it: uncertain, so the
    gateway is asked before any resend); it never cuts the others short. When this job itself is interrupted
    (its timeout), sends not begun are stopped (pending) and those under way are waited for, longer than the
    gateway's own timeout; one still going after that is left `sending`, claimed by this live worker, so no job
    takes it while it goes on (outbox.claim_is_stale), and it is looked up at the gateway before any resend."""
    endings: dict[int, Ending] = {}
    stop = threading.Event()

    def one(o: Owed) -> None:
        with sending(o.id):
            try:
                endings[o.id] = _throttled_attempt(services, o, stop)
            except Exception as exc:  # noqa: BLE001 - a sender's bug: it may have reached the gateway
                error = f"interrupted during the send: {exc}"
                endings[o.id] = Ending(UNCERTAIN, {"error": error}, UncertainSendError(error))

    sends: list[Future[None]] = []
    try:
        sends += [pool("send", services.settings.outbound.concurrency).submit(one, o) for o in claimed]
        wait(sends)
    except BaseException:
        stop.set()
        wait(sends, timeout=SEND_GRACE_SECONDS)
        raise
    finally:  # a send still under way after the grace stays `sending`, ours: no job takes it while it goes on
        ended = [(o.id, endings[o.id]) for o in claimed if o.id in endings]
        if ended:
            _settle(services, ended)
    return endings


def _settle(services: runtime.Services, endings: list[tuple[int, Ending]]) -> None:
    """How each claimed send ended, only where the claim is still ours: one UPDATE, many parameter sets."""
    t = cast(Table, OutboundMessage.__table__)  # the Core table: executemany, no ORM bookkeeping
    statement = (
        update(t)
        .where(t.c.id == bindparam("m_id"), t.c.claimed_by == claimer(), t.c.status == SENDING)
        .values(status=bindparam("m_status"), error=bindparam("m_error"))
        .values(provider_id=bindparam("m_provider_id"), sent_at=bindparam("m_sent_at"))
    )
    rows = [
        {
            "m_id": message_id,
            "m_status": e.status,
            "m_error": e.values.get("error", ""),
            "m_provider_id": e.values.get("provider_id", ""),  # a row claimed from pending had none before
            "m_sent_at": e.values.get("sent_at"),
        }
        for message_id, e in endings
    ]
    with services.db.begin() as db:
        db.connection().execute(statement, rows)


def _throttled_attempt(services: runtime.Services, owed: Owed, stop: threading.Event) -> Ending:
    """The sender number's next slot (waiting a bounded time), then the send, unless the batch was stopped."""
    per_second, prefix = services.settings.outbound.per_sender_per_second, services.sessions.prefix
    if stop.is_set():
        return Ending(PENDING, {"error": "stopped before the send"}, TransientSendError("stopped before the send"))
    try:
        throttle(services.redis, services.sms.number, per_second, THROTTLE_WAIT_SECONDS, prefix=prefix)
    except Throttled as exc:  # not sent: back to pending, its own job sends it when the number has room
        return Ending(PENDING, {"error": str(exc)}, exc)
    except redis.RedisError as exc:  # not sent either
        return Ending(PENDING, {"error": f"throttle unavailable: {exc}"}, TransientSendError(str(exc)))
    if stop.is_set():
        return Ending(PENDING, {"error": "stopped before the send"}, TransientSendError("stopped before the send"))
    return attempt(services, owed)


def _queue(services: runtime.Services, message_ids: list[int]) -> None:
    """A delivery job for each message the batch left (one round trip); the job id is the message's own."""
    runtime.enqueue_many(services, "sms_gateway.outbox.deliver", [(m, delivery_job_id(m)) for m in message_ids])
