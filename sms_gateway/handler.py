"""One inbound message, channel-neutral: lock and load the phone's dialog, advance it, enqueue, save, reply."""
from __future__ import annotations

import logging
import re
import secrets
from datetime import date, datetime, timezone
from typing import Any, Callable

import phonenumbers
from rq import Retry

import dialogs
from dialogs.jalali import to_jalali_str
from dialogs.model import Inbound
from sms_gateway.runtime import TEHRAN, Services, tehran_now
from storage import repository
from storage.sessions import Stored

log = logging.getLogger("kontor.handler")


def canonical_phone(raw: str) -> str:
    """E.164 for any form an Iranian gateway sends (09…, 989…, +989…); other senders kept as they are."""
    try:
        number = phonenumbers.parse(raw if not raw.startswith("98") else "+" + raw, "IR")
    except phonenumbers.NumberParseException:
        return raw.strip()
    if not phonenumbers.is_valid_number(number):
        return raw.strip()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(value: str) -> str:
    """Logs keep only the last four digits of a phone, bill or national ID."""
    return re.sub(r"\d(?=\d{4})", "*", value)


def handle(services: Services, inbound: Inbound, now: Callable = tehran_now) -> list[str]:
    """Process one message exactly once per message id; the reply is repeated for a redelivery."""
    phone, token = inbound.sender, secrets.token_hex(8)
    stored = services.sessions.begin(phone, token)
    try:
        if inbound.message_id and inbound.message_id in stored.seen:
            log.info("duplicate message %s from %s", inbound.message_id, mask(phone))
            services.sessions.release(phone, token)
            return stored.reply if stored.seen[-1] == inbound.message_id else []
        outcome = dialogs.advance(stored.dialog, inbound, now(), services.rules)
        while outcome.query is not None:
            answer = answer_query(services, outcome.query)
            outcome = dialogs.resume(outcome.session, outcome.query, answer, now(), services.rules)
        for effect in outcome.effects:
            perform(services, effect)
        seen = stored.seen + [inbound.message_id] if inbound.message_id else stored.seen
        services.sessions.commit(phone, token, Stored(outcome.session, seen, outcome.replies))
        return outcome.replies
    except BaseException:
        services.sessions.release(phone, token)
        raise


def answer_query(services: Services, query: dict[str, Any]) -> Any:
    """The dialog asked something only the outside world knows: a bill's meter, or a phone's requests."""
    if query["kind"] == "bill":
        meter = services.cis.meter(query["bill_id"])
        return meter.to_session() if meter else None
    with services.db() as db:
        rows = repository.requests_of_phone(db, query["phone"], query["tracking"])
        return [{"tracking_number": r.tracking_number, "status": r.status,
                 "updated_jalali": to_jalali_str(local_date(r.updated_at))} for r in rows]


def local_date(utc_naive: datetime) -> date:
    return utc_naive.replace(tzinfo=timezone.utc).astimezone(TEHRAN).date()


def perform(services: Services, effect: dict[str, Any]) -> None:
    """Enqueue before the save: the job is idempotent by dialog id, so a crash in between loses nothing."""
    if effect["type"] != "finish_request":
        raise ValueError(f"unknown effect {effect['type']}")
    request = effect["request"]
    intervals = services.settings.worker.retry_intervals
    services.queue.enqueue("sms_gateway.jobs.finish_request", request,
                           job_id="finish-" + re.sub(r"[^A-Za-z0-9_-]", "_", request["dialog_id"]),
                           retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
                           result_ttl=3600, failure_ttl=30 * 86400)
