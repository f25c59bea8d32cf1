"""The conversation engine: advance(session, inbound, now, rules) -> Outcome. Pure: no I/O, clock or randomness."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from dialogs import report, status, steps, ussd
from dialogs.model import BillLookup, Inbound, Meter, Outcome, Query, RequestStatus, Rules, Session
from dialogs.steps import new_session
from dialogs.text import normalize, script_of

__all__ = ["advance", "resume", "new_session"]


def advance(session: Session | None, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    """Handle one SMS or USSD input; `now` is the local (Tehran) time, injected."""
    rules = on_channel(rules, inbound.channel)
    session = session.copy() if session else None
    prefix: list[str] = []
    if session and _expired(session, now, rules):
        if session.step != ussd.MENU:
            prefix.append(rules.catalogue.text("expired", session.language))
        session = None
    if session and session.step == ussd.MENU and inbound.channel != ussd.CHANNEL:
        session = None  # a USSD menu left open means nothing to an SMS
    if session:
        session.channel = inbound.channel
    text = normalize(inbound.text)
    outcome = _route(session, inbound, text, now, rules)
    outcome.replies[:0] = prefix
    return _touch(outcome, now)


def _route(session: Session | None, inbound: Inbound, text: str, now: datetime, rules: Rules) -> Outcome:
    """Who answers this input: a USSD screen, a one-SMS report, a keyword, the menu, or the current step."""
    if inbound.channel == ussd.CHANNEL and (screen := ussd.screen(session, inbound, text, now, rules)):
        return screen
    quick = report.parse(text, rules.catalogue)
    if quick:
        return report.start(inbound, quick[0], quick[1], now, rules)
    match = rules.catalogue.match_keyword(text)
    if match:
        return _keyword(session, match, inbound, now, rules)
    if session is None:
        lang = script_of(text) or rules.default_language
        return Outcome(None, [rules.catalogue.text("menu", lang)])
    before = (session.step, session.register_index)
    outcome = steps.answer(session, inbound, text, now, rules)
    moved = outcome.query is not None or (session.step, session.register_index) != before
    return report.feed(outcome, now, rules) if moved and report.waiting(outcome) else outcome


def resume(
    session: Session | None, query: Query, answer: Meter | list[RequestStatus] | None, now: datetime, rules: Rules
) -> Outcome:
    """Continue after the caller answered the outcome's query: a Meter (or None) for a bill lookup,
    the phone's [RequestStatus] for a status lookup."""
    session = session.copy() if session else None
    rules = on_channel(rules, session.channel if session else "")
    if isinstance(query, BillLookup):
        meter = answer if isinstance(answer, Meter) else None
        outcome = steps.bill_found(session, meter, rules)
        found = meter is not None and report.waiting(outcome)  # an unknown bill is asked again; the rest waits
        return _touch(report.feed(outcome, now, rules) if found else outcome, now)
    return Outcome(session, status.status_replies(query, answer if isinstance(answer, list) else [], rules))


def on_channel(rules: Rules, channel: str) -> Rules:
    """The rules with the catalogue as this channel words it."""
    catalogue = rules.catalogue.on(channel)
    return rules if catalogue is rules.catalogue else dataclasses.replace(rules, catalogue=catalogue)


def _keyword(
    session: Session | None, match: tuple[str, str, str], inbound: Inbound, now: datetime, rules: Rules
) -> Outcome:
    name, lang, rest = match
    cat = rules.catalogue
    if name == "read":
        fresh = new_session(inbound.message_id, lang, now, inbound.channel)
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
        extra = [cat.text("help_report", lang)] if name == "help" else []
        return Outcome(None, [cat.text("menu", lang), *extra])
    if name == "cancel":
        return Outcome(None, [cat.text("cancelled", session.language)])
    return Outcome(session, [steps.help_text(session, rules), steps.prompt(session, rules)])


def _expired(session: Session, now: datetime, rules: Rules) -> bool:
    return now - session.last_active > timedelta(minutes=rules.idle_minutes)


def _touch(outcome: Outcome, now: datetime) -> Outcome:
    if outcome.session is not None:
        outcome.session.last_active = now.replace(microsecond=0)
    return outcome
