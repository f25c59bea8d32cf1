"""The conversation engine: advance(session, inbound, now, rules) -> Outcome. Pure: no I/O, clock or randomness."""

from __future__ import annotations

from datetime import datetime, timedelta

from dialogs import status, steps
from dialogs.model import BillLookup, Inbound, Meter, Outcome, Query, RequestStatus, Rules, Session
from dialogs.text import normalize, script_of


def advance(session: Session | None, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    """Handle one SMS; `now` is the local (Tehran) time, injected."""
    session = session.copy() if session else None
    prefix: list[str] = []
    if session and _expired(session, now, rules):
        prefix.append(rules.catalogue.text("expired", session.language))
        session = None
    text = normalize(inbound.text)
    match = rules.catalogue.match_keyword(text)
    if match:
        outcome = _keyword(session, match, inbound, now, rules)
    elif session is None:
        lang = script_of(text) or rules.default_language
        outcome = Outcome(None, [rules.catalogue.text("menu", lang)])
    else:
        outcome = steps.answer(session, inbound, text, now, rules)
    outcome.replies[:0] = prefix
    return _touch(outcome, now)


def resume(
    session: Session | None, query: Query, answer: Meter | list[RequestStatus] | None, now: datetime, rules: Rules
) -> Outcome:
    """Continue after the caller answered the outcome's query: a Meter (or None) for a bill lookup,
    the phone's [RequestStatus] for a status lookup."""
    session = session.copy() if session else None
    if isinstance(query, BillLookup):
        meter = answer if isinstance(answer, Meter) else None
        return _touch(steps.bill_found(session, meter, rules), now)
    return Outcome(session, status.status_replies(query, answer if isinstance(answer, list) else [], rules))


def _keyword(
    session: Session | None, match: tuple[str, str, str], inbound: Inbound, now: datetime, rules: Rules
) -> Outcome:
    name, lang, rest = match
    cat = rules.catalogue
    if name == "read":
        fresh = new_session(inbound.message_id, lang, now)
        return Outcome(fresh, [steps.prompt(fresh, rules)])
    if name == "inquire":
        lang = session.language if session else lang
        return status.inquire(session, rest, inbound.sender, lang, rules)
    if name in ("english", "persian"):
        lang = "en" if name == "english" else "fa"
        if session is None:
            return Outcome(None, [cat.text("language_set", lang), cat.text("menu", lang)])
        session.language = lang
        return Outcome(session, [cat.text("language_set", lang), steps.prompt(session, rules)])
    if session is None:
        return Outcome(None, [cat.text("menu", lang)])
    if name == "cancel":
        return Outcome(None, [cat.text("cancelled", session.language)])
    return Outcome(session, [steps.help_text(session, rules), steps.prompt(session, rules)])


def new_session(dialog_id: str, lang: str, now: datetime) -> Session:
    """A fresh dialog; its id is the gateway id of the message that started it (deterministic, unique)."""
    return Session(dialog_id, lang, steps.STEPS[0].name, now.replace(microsecond=0))


def _expired(session: Session, now: datetime, rules: Rules) -> bool:
    return now - session.last_active > timedelta(minutes=rules.idle_minutes)


def _touch(outcome: Outcome, now: datetime) -> Outcome:
    if outcome.session is not None:
        outcome.session.last_active = now.replace(microsecond=0)
    return outcome
