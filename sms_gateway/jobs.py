"""RQ job entry points: importable functions of JSON-safe arguments, safe to run twice."""
from __future__ import annotations

import logging
import secrets
from typing import Any

from dialogs.ids import make_tracking_number
from sms_gateway import runtime
from sms_gateway.outbox import deliver, utcnow
from storage import repository

log = logging.getLogger("kontor.jobs")


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
