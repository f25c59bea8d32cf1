"""The reading step: one register at a time in card order; a strange reading waits for an explicit `1`."""

from __future__ import annotations

import re
from datetime import date, datetime

from dialogs.errors import Refused
from dialogs.meters import ENERGY, days_since, demand_too_high, judge, physical_bound, register_use
from dialogs.model import Inbound, Outcome, Pending, Rules, Session
from dialogs.text import compact_number

_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?")  # ASCII only: \d would store fullwidth or Devanagari digits


def parse_reading(text: str, name: str, digits: int, decimals: int) -> str:
    """A register value: whole digits no longer than the register, decimals only where it has them."""
    match = _NUMBER.fullmatch(compact_number(text))
    if not match or (match.group(2) and not decimals):
        raise Refused("demand" if name == "demand" else "digits")
    whole, frac = match.group(1), match.group(2) or ""
    if len(whole) > digits or len(frac) > decimals:
        raise Refused("demand" if name == "demand" else "reading_length", digits=str(digits))
    return f"{whole}.{frac}" if frac else whole


def handle(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome | None:
    """A reading for the current register; None once the last register is read (the step is done)."""
    reg, pending = session.register, session.pending
    session.pending = None
    if pending and text == "1":
        wrapped = pending.reason == "wrap" or pending.wrapped
        return _check(session, pending.value, wrapped, pending.reason == "unusual", now, rules)
    return _check(session, parse_reading(text, reg.name, reg.digits, reg.decimals), False, False, now, rules)


def _check(session: Session, value: str, wrapped: bool, confirmed: bool, now: datetime, rules: Rules) -> Outcome | None:
    meter, reg = session.meter, session.register
    assert meter is not None
    if reg.name == "demand":
        limit = demand_too_high(meter, value, rules)
        if limit is not None:
            raise Refused("demand_high", max=f"{limit:g}")
        return _accept(session, value, wrapped, rules)
    verdict = judge(meter, reg, value, wrapped, days_since(meter.last_date, now.date()), rules)
    if verdict.kind == "impossible":
        raise Refused("too_high")
    if verdict.kind == "wrap" or (verdict.kind == "unusual" and not confirmed):
        session.pending = Pending(value, verdict.kind, wrapped, round(verdict.consumption))
        return Outcome(session, [ask(session, rules)])
    return _accept(session, value, wrapped, rules)


def _accept(session: Session, value: str, wrapped: bool, rules: Rules) -> Outcome | None:
    name, meter = session.register.name, session.meter
    assert meter is not None
    session.answers.readings[name] = value
    if wrapped:
        session.answers.wraps.append(name)
    if session.register_index + 1 < len(meter.registers):
        session.register_index += 1
        return Outcome(session, [ask(session, rules)])
    session.register_index = 0
    return None


def ask(session: Session, rules: Rules) -> str:
    """The current register's question, or the pending reading's `1 = correct` question."""
    cat, reg, lang, pending = rules.catalogue, session.register, session.language, session.pending
    if pending is not None:
        key = "ask_wrap" if pending.reason == "wrap" else "ask_unusual"
        return cat.text(key, lang, value=pending.value, last=reg.last, kwh=pending.kwh)
    key = "ask_demand" if reg.name == "demand" else "ask_reading"
    return cat.text(key, lang, register=cat.register(reg.name, lang), digits=reg.digits, last=reg.last or "-")


def help_text(session: Session, rules: Rules) -> str:
    cat, lang = rules.catalogue, session.language
    return cat.text("help_reading", lang, register=cat.register(session.register.name, lang))


def plausible_on(session: Session, day: date, rules: Rules) -> bool:
    """Readings checked against today must still fit the physical bound for the date actually given."""
    meter, answers = session.meter, session.answers
    assert meter is not None
    bound = physical_bound(meter, days_since(meter.last_date, day), rules)
    return not any(
        register_use(meter, reg, answers.readings[reg.name], reg.name in answers.wraps) > bound
        for reg in meter.registers
        if reg.name in ENERGY and reg.last and reg.name in answers.readings
    )
