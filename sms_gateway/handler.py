"""One inbound message, channel-neutral: lock and load the phone's dialog, advance it, enqueue, save, reply."""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dialogs
from adapters.clock import local_date
from adapters.http import OutsideSystemError
from dialogs.jalali import to_jalali_str
from dialogs.model import BillLookup, Effect, FinishRequest, Inbound, Meter, Outcome, Query, RequestStatus, StatusLookup
from dialogs.text import normalize, script_of
from sms_gateway import counters, optout
from sms_gateway.logs import mask_digits
from sms_gateway.runtime import Services
from storage import repository
from storage.phones import Gate, Stored

log = logging.getLogger("kontor.handler")


def say(services: Services, key: str, lang: str, **params: Any) -> str:
    return services.rules.catalogue.text(key, lang, **params)


def language(services: Services, stored: Stored, inbound: Inbound) -> str:
    """The subscriber's language: the dialog's, else the message's script, else the default."""
    if stored.dialog and stored.dialog.language in ("fa", "en"):
        return stored.dialog.language
    return script_of(normalize(inbound.text)) or services.rules.default_language


@dataclasses.dataclass(frozen=True)
class Handled:
    """The replies to one message and how it was handled (answered, duplicate or limited), for the counters."""

    outcome: str
    replies: list[str]
    dialog_open: bool = False  # a dialog stays open after this message (USSD answers CON, else END)


def handle(services: Services, inbound: Inbound, now: Callable[[], datetime] | None = None) -> list[str]:
    """Process one message exactly once per message id; the reply is repeated for a redelivery."""
    return receive(services, inbound, now).replies


def receive(services: Services, inbound: Inbound, now: Callable[[], datetime] | None = None) -> Handled:
    """handle(), also saying how the message was handled."""
    if not inbound.message_id:  # a dialog id must be unique: never let two dialogs share ""
        inbound = dataclasses.replace(inbound, message_id="local-" + secrets.token_hex(12))
    phone, token, cfg = inbound.sender, secrets.token_hex(8), services.settings.limits
    gate = services.sessions.enter(phone, token, cfg.per_phone_per_minute, cfg.global_per_second)
    if gate.state == "limited":
        log.warning("rate limited %s (notice: %s)", mask_digits(phone), gate.notice)
        if optout.is_stop(inbound.text):  # a STOP is honoured even from a phone over its limit
            services.sessions.opt_out(phone)
            return Handled("limited", [])
        notice = gate.notice and not gate.opted_out
        replies = [say(services, "rate_limited", language(services, gate.stored, inbound))] if notice else []
        return Handled("limited", replies, gate.stored.dialog is not None)
    try:
        if gate.global_over:
            log.warning(
                "global inbound limit of %s/s passed; message from %s dropped",
                cfg.global_per_second,
                mask_digits(phone),
            )
            services.sessions.release(phone, token)
            return Handled("limited", [])
        return _locked(services, inbound, token, gate, now or services.clock.tehran_now)
    except BaseException:
        services.sessions.release(phone, token)
        raise


def _locked(services: Services, inbound: Inbound, token: str, gate: Gate, now: Callable[[], datetime]) -> Handled:
    """With the phone's lock held: dedupe, STOP/START, then the dialog."""
    phone, stored = inbound.sender, gate.stored
    if inbound.message_id in stored.seen:
        log.info("duplicate message %s from %s", inbound.message_id, mask_digits(phone))
        services.sessions.release(phone, token)
        replies = stored.reply if stored.seen[-1] == inbound.message_id else []
        return Handled("duplicate", replies, stored.dialog is not None)
    lang = language(services, stored, inbound)
    if optout.is_stop(inbound.text):
        services.sessions.stop(phone, token)
        log.info("%s opted out", mask_digits(phone))
        return Handled("answered", [say(services, "opted_out", lang)])
    if not gate.opted_out:
        return _advance(services, inbound, stored, token, now, [])
    if not optout.is_start(inbound.text):  # opted out: nothing is answered until START
        services.sessions.release(phone, token)
        return Handled("answered", [])
    services.sessions.start(phone)
    return _advance(services, inbound, stored, token, now, [say(services, "opted_in", lang)])


def _advance(
    services: Services, inbound: Inbound, stored: Stored, token: str, now: Callable[[], datetime], prefix: list[str]
) -> Handled:
    """Advance the dialog, answer its queries, enqueue its effects, then save and unlock."""
    at = now()
    outcome = dialogs.advance(stored.dialog, inbound, at, services.rules)
    while (query := outcome.query) is not None:
        refusal = _inquire_refusal(services, inbound.sender, query)
        if refusal is not None:
            outcome = Outcome(outcome.session, refusal)
            break
        outcome = dialogs.resume(outcome.session, query, answer_query(services, query), now(), services.rules)
    replies = prefix + outcome.replies
    services.sessions.commit(
        inbound.sender,
        token,
        Stored(outcome.session, stored.seen + [inbound.message_id], replies),
        before=_jobs(services, outcome.effects),
    )
    counters.dialog_step(stored.dialog, outcome, at, services.rules.idle_minutes)
    return Handled("answered", replies, outcome.session is not None)


def _jobs(services: Services, effects: list[Effect]) -> Callable[[Any], None] | None:
    """The dialog's effects as commands for the save's pipeline (None: a plain save, no pipeline)."""
    if not effects:
        return None

    def enqueue_all(pipe: Any) -> None:
        for effect in effects:
            perform(services, effect, pipe)

    return enqueue_all


def _inquire_refusal(services: Services, phone: str, query: Query) -> list[str] | None:
    """INQUIRE with a tracking number is limited per phone per hour; None = go ahead."""
    if not isinstance(query, StatusLookup) or not query.tracking:
        return None
    allowed, first = services.sessions.inquire_allowed(phone, services.settings.limits.inquire_per_hour)
    if allowed:
        return None
    log.warning("INQUIRE limit reached by %s", mask_digits(phone))
    return [say(services, "rate_limited", query.language or services.rules.default_language)] if first else []


def answer_query(services: Services, query: Query) -> Meter | list[RequestStatus] | None:
    """The dialog asked something only the outside world knows: a bill's meter, or a phone's requests."""
    if isinstance(query, BillLookup):
        try:
            return services.cis.meter(query.bill_id)
        except OutsideSystemError as exc:  # refused for good (4xx, a malformed meter): ask again, don't loop
            log.error("subscriber system refused bill %s: %s", mask_digits(query.bill_id), exc)
            return None
    with services.reader() as db:
        rows = repository.requests_of_phone(db, query.phone, query.tracking)
        return [
            RequestStatus(
                r.tracking_number, r.status, to_jalali_str(local_date(r.updated_at)), r.bill_amount, r.payment_id
            )
            for r in rows
        ]


def perform(services: Services, effect: Effect, pipeline: Any = None) -> None:
    """Pushed to the confirmed requests' inbox in the save's own round trip, ahead of the save: the batch job is
    idempotent by dialog id, so a crash or a lost lock between the two loses nothing and doubles nothing."""
    if not isinstance(effect, FinishRequest):
        raise ValueError(f"unknown effect {effect!r}")
    item = json.dumps(effect.request.to_json(), ensure_ascii=False, separators=(",", ":"))
    services.confirmed.push([item], pipeline=pipeline)
