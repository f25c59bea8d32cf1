"""One inbound message, channel-neutral: lock and load the phone's dialog, advance it, enqueue, save, reply."""
from __future__ import annotations

import dataclasses
import logging
import secrets
from datetime import date, datetime, timezone
from typing import Any, Callable

from adapters.http import OutsideSystemError

import dialogs
from dialogs.jalali import to_jalali_str
from dialogs.model import Inbound, Outcome
from dialogs.text import normalize, script_of
from sms_gateway import jobs, optout, runtime
from sms_gateway.logs import mask_digits
from sms_gateway.runtime import TEHRAN, Services, tehran_now
from storage import repository
from storage.phones import Gate, Stored

log = logging.getLogger("kontor.handler")


def say(services: Services, key: str, lang: str, **params: Any) -> str:
    return services.rules.catalogue.text(key, lang, **params)


def language(services: Services, stored: Stored, inbound: Inbound) -> str:
    """The subscriber's language: the dialog's, else the message's script, else the default."""
    if stored.dialog and stored.dialog.get("lang") in ("fa", "en"):
        return str(stored.dialog["lang"])
    return script_of(normalize(inbound.text)) or services.rules.default_language


def handle(services: Services, inbound: Inbound, now: Callable[[], datetime] = tehran_now) -> list[str]:
    """Process one message exactly once per message id; the reply is repeated for a redelivery."""
    if not inbound.message_id:   # a dialog id must be unique: never let two dialogs share ""
        inbound = dataclasses.replace(inbound, message_id="local-" + secrets.token_hex(12))
    phone, token, cfg = inbound.sender, secrets.token_hex(8), services.settings.limits
    gate = services.sessions.enter(phone, token, cfg.per_phone_per_minute, cfg.global_per_second)
    if gate.state == "limited":
        log.warning("rate limited %s (notice: %s)", mask_digits(phone), gate.notice)
        if optout.is_stop(inbound.text):       # a STOP is honoured even from a phone over its limit
            services.sessions.opt_out(phone)
            return []
        notice = gate.notice and not gate.opted_out
        return [say(services, "rate_limited", language(services, gate.stored, inbound))] if notice else []
    try:
        if gate.global_over:
            log.warning("global inbound limit of %s/s passed; message from %s dropped", cfg.global_per_second,
                        mask_digits(phone))
            services.sessions.release(phone, token)
            return []
        return _locked(services, inbound, token, gate, now)
    except BaseException:
        services.sessions.release(phone, token)
        raise


def _locked(services: Services, inbound: Inbound, token: str, gate: Gate,
            now: Callable[[], datetime]) -> list[str]:
    """With the phone's lock held: dedupe, STOP/START, then the dialog."""
    phone, stored = inbound.sender, gate.stored
    if inbound.message_id in stored.seen:
        log.info("duplicate message %s from %s", inbound.message_id, mask_digits(phone))
        services.sessions.release(phone, token)
        return stored.reply if stored.seen[-1] == inbound.message_id else []
    lang = language(services, stored, inbound)
    if optout.is_stop(inbound.text):
        services.sessions.stop(phone, token)
        log.info("%s opted out", mask_digits(phone))
        return [say(services, "opted_out", lang)]
    if not gate.opted_out:
        return _advance(services, inbound, stored, token, now, [])
    if not optout.is_start(inbound.text):   # opted out: nothing is answered until START
        services.sessions.release(phone, token)
        return []
    services.sessions.start(phone)
    return _advance(services, inbound, stored, token, now, [say(services, "opted_in", lang)])


def _advance(services: Services, inbound: Inbound, stored: Stored, token: str, now: Callable,
             prefix: list[str]) -> list[str]:
    """Advance the dialog, answer its queries, enqueue its effects, then save and unlock."""
    outcome = dialogs.advance(stored.dialog, inbound, now(), services.rules)
    while outcome.query is not None:
        refusal = _inquire_refusal(services, inbound.sender, outcome.query)
        if refusal is not None:
            outcome = Outcome(outcome.session, refusal)
            break
        answer = answer_query(services, outcome.query)
        outcome = dialogs.resume(outcome.session, outcome.query, answer, now(), services.rules)
    replies = prefix + outcome.replies
    services.sessions.commit(inbound.sender, token, Stored(outcome.session, stored.seen + [inbound.message_id],
                                                           replies),
                             before=_jobs(services, outcome.effects))
    return replies


def _jobs(services: Services, effects: list[dict[str, Any]]) -> Callable[[Any], None] | None:
    """The dialog's effects as commands for the save's pipeline (None: a plain save, no pipeline)."""
    if not effects:
        return None
    return lambda pipe: [perform(services, effect, pipe) for effect in effects]


def _inquire_refusal(services: Services, phone: str, query: dict[str, Any]) -> list[str] | None:
    """INQUIRE with a tracking number is limited per phone per hour; None = go ahead."""
    if query["kind"] != "status" or not query.get("tracking"):
        return None
    allowed, first = services.sessions.inquire_allowed(phone, services.settings.limits.inquire_per_hour)
    if allowed:
        return None
    log.warning("INQUIRE limit reached by %s", mask_digits(phone))
    return [say(services, "rate_limited", query.get("lang") or services.rules.default_language)] if first else []


def answer_query(services: Services, query: dict[str, Any]) -> Any:
    """The dialog asked something only the outside world knows: a bill's meter, or a phone's requests."""
    if query["kind"] == "bill":
        try:
            meter = services.cis.meter(query["bill_id"])
        except OutsideSystemError as exc:   # refused for good (4xx, a malformed meter): ask again, don't loop
            log.error("subscriber system refused bill %s: %s", mask_digits(query["bill_id"]), exc)
            return None
        return meter.to_session() if meter else None
    with services.db() as db:
        rows = repository.requests_of_phone(db, query["phone"], query["tracking"])
        return [{"tracking_number": r.tracking_number, "status": r.status,
                 "updated_jalali": to_jalali_str(local_date(r.updated_at)),
                 "amount": r.bill_amount, "payment_id": r.payment_id} for r in rows]


def local_date(utc_naive: datetime) -> date:
    return utc_naive.replace(tzinfo=timezone.utc).astimezone(TEHRAN).date()


def perform(services: Services, effect: dict[str, Any], pipeline: Any = None) -> None:
    """Enqueued in the save's own round trip, ahead of the save: the job is idempotent by dialog id,
    so a crash or a lost lock between the two loses nothing and doubles nothing."""
    if effect["type"] != "finish_request":
        raise ValueError(f"unknown effect {effect['type']}")
    request = effect["request"]
    runtime.enqueue(services, "sms_gateway.jobs.finish_request", request, jobs.job_id("finish", request["dialog_id"]),
                    pipeline=pipeline)
