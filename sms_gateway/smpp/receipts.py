"""Delivery receipts: `id:… stat:DELIVRD` (or the receipted_message_id / message_state TLVs) -> the SMS's SQL status.

Only the workers' SMS are rows in outbound_messages; their parts' SMSC ids are mapped to the row's provider id
by the submit side. A receipt can beat that map (the SMSC may send it before we read its submit_sm_resp) or the
worker's commit of the provider id, so an unmatched one is tried again for a while (a Redis sorted set).
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any, cast

from sqlalchemy import update

from adapters.senders.smpp import PREFIX
from sms_gateway.runtime import Services
from sms_gateway.smpp.outbound import part_key
from storage.models import OutboundMessage

log = logging.getLogger("kontor.smpp")
RETRY_KEY = f"{PREFIX}:receipts"
RETRY_SECONDS = 120  # a receipt of a worker's SMS waits this long for its row
UNKNOWN_SECONDS = 20  # a receipt of an SMS not (yet) known to be a worker's waits this long for its map
# message_state TLV values (SMPP 3.4 5.2.28) as the stat words of the receipt text
STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
FIELD = re.compile(r"(id|stat|err):\s*([^\s]+)", re.IGNORECASE)


def parse(text: str, receipted_id: str = "", state: int | None = None) -> tuple[str, str, str]:
    """(SMSC message id, stat word, err code): the TLVs when present, else the receipt text's fields."""
    fields = {k.lower(): v for k, v in FIELD.findall(text)}
    stat = STATES.get(state, "") if state is not None else ""
    return receipted_id or fields.get("id", ""), (stat or fields.get("stat", "")).upper(), fields.get("err", "")


def status_of(stat: str) -> str | None:
    """Kontor's status for a final stat word; None for an intermediate one (ENROUTE, ACCEPTD)."""
    if stat == "DELIVRD":
        return "delivered"
    if stat in ("EXPIRED", "DELETED", "UNDELIV", "UNKNOWN", "REJECTD"):
        return "undelivered"
    return None


def record(services: Services, smsc_id: str, stat: str, err: str, since: float | None = None) -> bool:
    """Apply one receipt; False (and kept to try again) while its SMS is not known or its row not committed yet."""
    status, now = status_of(stat), time.time()
    if status is None or not smsc_id:  # intermediate (ENROUTE, ACCEPTD), or no id to match
        return True
    raw = services.redis.get(part_key(smsc_id))
    if raw is not None:
        provider_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        if _apply(services, provider_id, status, f"{stat} err:{err}" if status != "delivered" else ""):
            return True
    since = now if since is None else since
    # A receipt may beat the submit_sm_resp (no map yet) or the worker's commit (no row yet); a dialog reply's
    # receipt never finds either and is let go after UNKNOWN_SECONDS.
    if now - since < (RETRY_SECONDS if raw is not None else UNKNOWN_SECONDS):
        entry = {"id": smsc_id, "stat": stat, "err": err, "since": since}
        services.redis.zadd(RETRY_KEY, {json.dumps(entry): now + 1})
    return False


def retry_due(services: Services) -> None:
    """Receipts kept to try again, once each when due."""
    for member in cast(list[bytes], services.redis.zrangebyscore(RETRY_KEY, 0, time.time(), start=0, num=100)):
        if services.redis.zrem(RETRY_KEY, member):
            entry: dict[str, Any] = json.loads(member)
            record(services, entry["id"], entry["stat"], entry["err"], entry["since"])


def _apply(services: Services, provider_id: str, status: str, error: str) -> bool:
    """Set the status of the sent SMS with this provider id; a failed part is not overwritten by a delivered one."""
    allowed = ("sent", "delivered") if status == "delivered" else ("sent", "delivered", "undelivered")
    with services.db.begin() as db:
        result = db.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.provider == "smpp",
                OutboundMessage.provider_id == provider_id,
                OutboundMessage.status.in_(allowed),
            )
            .values(status=status, error=error)
        )
    matched = getattr(result, "rowcount", 0)  # an UPDATE's CursorResult (typed as a plain Result)
    if matched:
        log.info("SMS %s %s", provider_id, status)
    return bool(matched)
