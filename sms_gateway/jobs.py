"""RQ job entry points: importable functions of JSON-safe arguments, safe to run twice."""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from adapters.sms import PermanentSendError
from dialogs.ids import make_tracking_number
from sms_gateway import runtime
from storage import repository
from storage.models import OutboundMessage

log = logging.getLogger("kontor.jobs")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def new_tracking_number() -> str:
    """12 digits: 11 random (not sequential, not guessable) and a Damm check digit that catches typos."""
    return make_tracking_number(f"{secrets.randbelow(9 * 10**10) + 10**10}")


def finish_request(request: dict[str, Any]) -> str:
    """Store the confirmed request once, owe the tracking SMS in the same transaction, then deliver it."""
    services = runtime.from_environment()
    with services.db.begin() as db:
        row, created = repository.store_request(db, request, new_tracking_number, utcnow())
        text = services.rules.catalogue.text("tracking_sms", row.language, tracking=row.tracking_number)
        message = repository.owe_message(db, f"tracking:{row.dialog_id}", row.mobile, text, utcnow())
        message_id, tracking = message.id, row.tracking_number
    log.info("request %s %s", tracking, "stored" if created else "already stored")
    deliver(message_id)
    return tracking


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
