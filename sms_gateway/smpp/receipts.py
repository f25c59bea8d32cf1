"""Delivery receipts: `id:… stat:DELIVRD` (or the receipted_message_id / message_state TLVs) -> the SMS's SQL status.

Only the workers' SMS are rows in outbound_messages; their parts' SMSC ids are mapped to the row's provider id
by the submit side. A receipt can beat the worker's commit of that provider id, so an unmatched one is tried
again for a while (a Redis sorted set), then dropped.
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
RETRY_SECONDS = 120
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


def record(services: Services, smsc_id: str, stat: str, err: str) -> None:
    """Apply one receipt, or keep it to try again when its row is not committed yet."""
    status = status_of(stat)
    raw = services.redis.get(part_key(smsc_id)) if smsc_id else None
    if status is None or raw is None:  # intermediate, or not a worker's SMS (a dialog reply)
        return
    provider_id = raw.decode() if isinstance(raw, bytes) else str(raw)
    if not _apply(services, provider_id, status, f"{stat} err:{err}" if status != "delivered" else ""):
        entry = {"provider_id": provider_id, "status": status, "stat": stat, "err": err, "since": time.time()}
        services.redis.zadd(RETRY_KEY, {json.dumps(entry): time.time() + 1})


def retry_due(services: Services) -> None:
    """Receipts whose row was not there yet: once more, until RETRY_SECONDS after they came."""
    now = time.time()
    for member in cast(list[bytes], services.redis.zrangebyscore(RETRY_KEY, 0, now, start=0, num=100)):
        services.redis.zrem(RETRY_KEY, member)
        entry: dict[str, Any] = json.loads(member)
        error = f"{entry['stat']} err:{entry['err']}" if entry["status"] != "delivered" else ""
        if not _apply(services, entry["provider_id"], entry["status"], error) and now - entry["since"] < RETRY_SECONDS:
            services.redis.zadd(RETRY_KEY, {member: now + 2})


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
