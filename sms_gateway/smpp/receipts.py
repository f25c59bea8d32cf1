"""Delivery receipts: `id:… stat:DELIVRD` (or the receipted_message_id / message_state TLVs) -> the SMS's SQL status.

A receipt is acknowledged once kept in Redis (a sorted set); a thread of its own applies it to SQL, so the SMPP
loop never waits for the database (on SQLite a worker holds the write lock while it waits for that very loop).
Only the workers' SMS are rows in outbound_messages; their parts' SMSC ids are mapped to the row's provider id
by the submit side. A receipt can beat that map (the SMSC may send it before we read its submit_sm_resp) or the
worker's commit of the provider id, so an unmatched one is tried again for a while.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any, cast

import redis
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from adapters.clock import utcnow
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
# stat word -> outbound_messages.delivery_status (the words the Kavenegar channel records too, where they agree)
FINAL_STATES = {
    "DELIVRD": "delivered",
    "UNDELIV": "undelivered",
    "EXPIRED": "expired",
    "DELETED": "deleted",
    "REJECTD": "rejected",
    "UNKNOWN": "unknown",
}
FIELD = re.compile(r"(id|stat|err):\s*([^\s]+)", re.IGNORECASE)


def parse(text: str, receipted_id: str = "", state: int | None = None) -> tuple[str, str, str]:
    """(SMSC message id, stat word, err code): the TLVs when present, else the receipt text's fields."""
    fields = {k.lower(): v for k, v in FIELD.findall(text)}
    stat = STATES.get(state, "") if state is not None else ""
    return receipted_id or fields.get("id", ""), (stat or fields.get("stat", "")).upper(), fields.get("err", "")


def status_of(stat: str) -> str | None:
    """The delivery status Kontor records for a final stat word; None for an intermediate one (ENROUTE, ACCEPTD)."""
    return FINAL_STATES.get(stat)


def keep(services: Services, smsc_id: str, stat: str, err: str) -> None:
    """Keep a final receipt for the applier thread (an intermediate one, ENROUTE or ACCEPTD, changes nothing)."""
    if status_of(stat) is not None and smsc_id:
        entry = {"id": smsc_id, "stat": stat, "err": err, "since": time.time()}
        services.redis.zadd(RETRY_KEY, {json.dumps(entry): time.time()})


def apply_forever(services: Services, stop: threading.Event, every: float = 0.5) -> None:
    """The applier thread: kept receipts to SQL until `stop`; Redis or SQL down only delays them."""
    while not stop.wait(every):
        try:
            apply_due(services)
        except (redis.RedisError, SQLAlchemyError) as exc:
            log.warning("delivery receipts wait: %r", exc)


def apply_due(services: Services) -> None:
    """Kept receipts, once each when due."""
    for member in cast(list[bytes], services.redis.zrangebyscore(RETRY_KEY, 0, time.time(), start=0, num=100)):
        if services.redis.zrem(RETRY_KEY, member):
            entry: dict[str, Any] = json.loads(member)
            if not record(services, entry["id"], entry["stat"], entry["err"], entry["since"]):
                services.redis.zadd(RETRY_KEY, {member: time.time() + 1})


def record(services: Services, smsc_id: str, stat: str, err: str, since: float) -> bool:
    """Apply one receipt; False while it should be tried again (SMS not known yet, or its row not committed)."""
    status, raw = status_of(stat), services.redis.get(part_key(smsc_id))
    if raw is not None and status is not None:
        provider_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        if status != "delivered":
            log.info("SMS %s not delivered: %s err:%s", provider_id, stat, err)
        if _apply(services, provider_id, status) or _known(services, provider_id):
            return True
    # A dialog reply's receipt never finds a map and is let go after UNKNOWN_SECONDS.
    return time.time() - since >= (RETRY_SECONDS if raw is not None else UNKNOWN_SECONDS)


def _apply(services: Services, provider_id: str, status: str) -> bool:
    """Record the delivery status of the SMS sent under this provider id; "delivered" never hides a failed part."""
    kept = set(FINAL_STATES.values()) if status == "delivered" else {status}
    with services.db.begin() as db:
        result = db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.provider == "smpp", OutboundMessage.provider_id == provider_id)
            .where(OutboundMessage.delivery_status.not_in(kept))
            .values(delivery_status=status, delivery_at=utcnow())
        )
    matched = getattr(result, "rowcount", 0)  # an UPDATE's CursorResult (typed as a plain Result)
    if matched:
        log.info("SMS %s %s", provider_id, status)
    return bool(matched)


def _known(services: Services, provider_id: str) -> bool:
    """The row is there and already has a final status this receipt may not change: nothing to try again."""
    with services.db() as db:
        found = db.scalar(
            select(OutboundMessage.id).where(
                OutboundMessage.provider == "smpp", OutboundMessage.provider_id == provider_id
            )
        )
    return found is not None
