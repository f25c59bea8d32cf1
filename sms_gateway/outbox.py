"""Delivering the SMS Kontor owes: each owed message (a row in outbound_messages) is sent at most once."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from adapters.sms import PermanentSendError
from sms_gateway import runtime
from storage.models import OutboundMessage


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def deliver(message_id: int) -> None:
    """Send an owed SMS unless it was sent already; transient errors raise so RQ retries the job."""
    services = runtime.from_environment()
    with services.db.begin() as db:
        message = db.scalar(select(OutboundMessage).where(OutboundMessage.id == message_id).with_for_update())
        if message is None or message.status in ("sent", "failed"):
            return
        message.attempts += 1
        try:
            message.provider_id = services.sms.send(message.to, message.body)
            message.status, message.sent_at = "sent", utcnow()
        except PermanentSendError as exc:
            message.status, message.error = "failed", str(exc)
        message.provider = services.sms.name
