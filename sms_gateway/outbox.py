"""Delivering the SMS Kontor owes: each owed message (a row in outbound_messages) is sent at most once.

The row is claimed by a conditional UPDATE (status still pending) as the first statement of the transaction:
PostgreSQL locks the row, SQLite takes its write lock, so two workers never both send it. Throttling and the
opt-out check happen before the claim, so no lock is held while waiting.
"""
from __future__ import annotations

import logging

from sqlalchemy import select, update

from adapters.clock import utcnow
from adapters.sms import PermanentSendError, TransientSendError
from sms_gateway import bootstrap, limits, optout, runtime
from storage.models import OutboundMessage

log = logging.getLogger("kontor.outbox")
THROTTLE_WAIT_SECONDS = 5.0


def deliver(message_id: int) -> None:
    """Send an owed SMS unless it was sent, failed for good or suppressed; transient errors raise so RQ retries."""
    services = bootstrap.services()
    with services.db() as db:
        to = db.scalar(select(OutboundMessage.to).where(OutboundMessage.id == message_id,
                                                        OutboundMessage.status == "pending"))
    if to is None:
        return
    if optout.opted_out(services.redis, services.sessions, to):
        _finish(services, message_id, "suppressed", "opted out (STOP)")
        return
    limits.throttle(services.redis, services.settings.twilio.from_number,
                    services.settings.outbound.per_sender_per_second, THROTTLE_WAIT_SECONDS)
    error = _send_claimed(services, message_id)
    if error is not None:
        raise error


def _send_claimed(services: runtime.Services, message_id: int) -> TransientSendError | None:
    """Claim the row, send, record the outcome; a transient error is recorded, then returned to raise."""
    with services.db.begin() as db:
        claimed = db.execute(update(OutboundMessage)
                             .where(OutboundMessage.id == message_id, OutboundMessage.status == "pending")
                             .values(attempts=OutboundMessage.attempts + 1))
        if claimed.rowcount != 1:
            return None
        message = db.scalar(select(OutboundMessage).where(OutboundMessage.id == message_id).with_for_update())
        message.provider = services.sms.name
        try:
            message.provider_id = services.sms.send(message.to, message.body)
            message.status, message.sent_at, message.error = "sent", utcnow(), ""
        except PermanentSendError as exc:
            message.status, message.error = "failed", str(exc)
            log.warning("SMS %s failed for good: %s", message_id, exc)
        except TransientSendError as exc:
            message.error = str(exc)
            log.warning("SMS %s not sent yet (attempt %s): %s", message_id, message.attempts, exc)
            return exc
    return None


def _finish(services: runtime.Services, message_id: int, status: str, reason: str) -> None:
    """Close a pending row without sending (opted out)."""
    with services.db.begin() as db:
        db.execute(update(OutboundMessage)
                   .where(OutboundMessage.id == message_id, OutboundMessage.status == "pending")
                   .values(status=status, error=reason))
    log.info("SMS %s %s: %s", message_id, status, reason)
