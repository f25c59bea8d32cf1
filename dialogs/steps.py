"""The reading dialog: one small handler per step, and STEPS, the one table that says their order."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from dialogs.errors import Refused, refusal_text
from dialogs.ids import parse_electricity_bill_id, parse_national_id
from dialogs.jalali import parse_reading_date, to_jalali_str
from dialogs.meters import ENERGY, days_since, demand_too_high, judge, physical_bound, register_use
from dialogs.model import (
    Answers,
    Attachment,
    BillLookup,
    ConfirmedRequest,
    FinishRequest,
    Inbound,
    Meter,
    Outcome,
    Pending,
    Rules,
    Session,
)
from dialogs.text import clean_free_text, compact_number

Handler = Callable[[Session, str, Inbound, datetime, Rules], Outcome]
Words = Callable[[Session, Rules], str]


@dataclass(frozen=True)
class Step:
    """One row of the dialog: its handler, how it asks and helps (default: the catalogue's ask_<name>, help_<name>)."""
    name: str
    handle: Handler
    ask: Words | None = None
    help: Words | None = None
    media_answers: bool = False                      # an MMS without text answers this step (as "0")
    applies: Callable[[Rules], bool] = lambda rules: True


def prompt(session: Session, rules: Rules) -> str:
    """The question of the session's current step."""
    ask = STEP[session.step].ask
    return ask(session, rules) if ask else rules.catalogue.text(f"ask_{session.step}", session.language)


def help_text(session: Session, rules: Rules) -> str:
    words = STEP[session.step].help
    return words(session, rules) if words else rules.catalogue.text(f"help_{session.step}", session.language)


def answer(session: Session, inbound: Inbound, text: str, now: datetime, rules: Rules) -> Outcome:
    """Apply one answer to the current step; a refused answer keeps everything already given."""
    step = STEP[session.step]
    session.media.extend(Attachment(m.url, m.content_type, step.name) for m in inbound.media)
    if inbound.media and not text:
        if not step.media_answers:
            return Outcome(session, [rules.catalogue.text("media_kept", session.language), prompt(session, rules)])
        text = "0"
    try:
        return step.handle(session, text, inbound, now, rules)
    except Refused as err:
        return Outcome(session, [refusal_text(err, session.language, rules.catalogue) + "\n" + prompt(session, rules)])


def _go(session: Session, step: str, rules: Rules) -> Outcome:
    session.step = step
    return Outcome(session, [prompt(session, rules)])


def _next(session: Session, rules: Rules) -> Outcome:
    """Move to the next step of the table that applies under these rules."""
    later = STEPS[[s.name for s in STEPS].index(session.step) + 1:]
    return _go(session, next(s.name for s in later if s.applies(rules)), rules)


def _bill(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    bill = parse_electricity_bill_id(text)
    session.answers.bill_id = bill.value
    return Outcome(session, [], query=BillLookup(bill.value))


def bill_found(session: Session | None, meter: Meter | None, rules: Rules) -> Outcome:
    """The subscriber system answered the bill lookup: ask for the meter's registers, or for the bill again."""
    if session is None:
        return Outcome(None, [])
    if meter is None:
        session.answers.bill_id = ""
        refusal = refusal_text(Refused("bill_unknown"), session.language, rules.catalogue)
        return Outcome(session, [refusal + "\n" + prompt(session, rules)])
    session.meter = meter.in_card_order()
    return _next(session, rules)


def _nid(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    session.answers.national_id = parse_national_id(compact_number(text))
    session.register_index = 0
    return _next(session, rules)


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


def _reading(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    """A reading; one lower than the last, or far above the usual use, waits for an explicit `1`."""
    reg, pending = session.register, session.pending
    session.pending = None
    if pending and text == "1":
        wrapped = pending.reason == "wrap" or pending.wrapped
        return _check_reading(session, pending.value, wrapped, pending.reason == "unusual", now, rules)
    return _check_reading(session, parse_reading(text, reg.name, reg.digits, reg.decimals), False, False, now, rules)


def _check_reading(session: Session, value: str, wrapped: bool, confirmed: bool, now: datetime,
                   rules: Rules) -> Outcome:
    meter, reg = session.meter, session.register
    assert meter is not None
    if reg.name == "demand":
        limit = demand_too_high(meter, value, rules)
        if limit is not None:
            raise Refused("demand_high", max=f"{limit:g}")
        return _accept_reading(session, value, wrapped, rules)
    verdict = judge(meter, reg, value, wrapped, days_since(meter.last_date, now.date()), rules)
    if verdict.kind == "impossible":
        raise Refused("too_high")
    if verdict.kind == "wrap" or (verdict.kind == "unusual" and not confirmed):
        session.pending = Pending(value, verdict.kind, wrapped, round(verdict.consumption))
        return Outcome(session, [_pending_question(session, rules)])
    return _accept_reading(session, value, wrapped, rules)


def _pending_question(session: Session, rules: Rules) -> str:
    pending = session.pending
    assert pending is not None
    key = "ask_wrap" if pending.reason == "wrap" else "ask_unusual"
    return rules.catalogue.text(key, session.language, value=pending.value, last=session.register.last,
                                kwh=pending.kwh)


def _ask_reading(session: Session, rules: Rules) -> str:
    if session.pending is not None:
        return _pending_question(session, rules)
    cat, reg = rules.catalogue, session.register
    key = "ask_demand" if reg.name == "demand" else "ask_reading"
    return cat.text(key, session.language, register=cat.register(reg.name, session.language), digits=reg.digits,
                    last=reg.last or "-")


def _help_reading(session: Session, rules: Rules) -> str:
    cat, lang = rules.catalogue, session.language
    return cat.text("help_reading", lang, register=cat.register(session.register.name, lang))


def _accept_reading(session: Session, value: str, wrapped: bool, rules: Rules) -> Outcome:
    name, meter = session.register.name, session.meter
    assert meter is not None
    session.answers.readings[name] = value
    if wrapped:
        session.answers.wraps.append(name)
    session.register_index += 1
    if session.register_index < len(meter.registers):
        return _go(session, "reading", rules)
    session.register_index = 0
    return _next(session, rules)


def _date(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    assert session.meter is not None
    last = session.meter.last_date
    day = parse_reading_date(text, now.date(), date.fromisoformat(last) if last else None)
    if not _plausible_on(session, day, rules):
        raise Refused("date_implausible")
    session.answers.reading_date = day.isoformat()
    return _next(session, rules)


def _plausible_on(session: Session, day: date, rules: Rules) -> bool:
    """Readings checked against today must still fit the physical bound for the date actually given."""
    meter, answers = session.meter, session.answers
    assert meter is not None
    bound = physical_bound(meter, days_since(meter.last_date, day), rules)
    return not any(register_use(meter, reg, answers.readings[reg.name], reg.name in answers.wraps) > bound
                   for reg in meter.registers if reg.name in ENERGY and reg.last and reg.name in answers.readings)


def _desc(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    free = clean_free_text(inbound.text)
    if len(free) > rules.description_max:
        raise Refused("desc_long", max=str(rules.description_max))
    session.answers.description = "" if text == "0" else free
    return _next(session, rules)


def _receipt(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    ref = compact_number(text)
    if ref != "0" and not re.fullmatch("[0-9]{4,20}", ref):  # not isdigit(): it accepts superscripts
        if not inbound.media:
            raise Refused("receipt")
        ref = "0"  # a photo of the receipt with a caption: the photo is the receipt
    if ref == "0" and rules.require_receipt and not inbound.media:
        raise Refused("receipt_required")
    session.answers.receipt_reference = "" if ref == "0" else ref
    return _next(session, rules)


def _card(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    """Where the national ID card's image is required, only an MMS photo moves on."""
    if not inbound.media:
        raise Refused("card_required")
    return _next(session, rules)


def _confirm(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    lang = session.language
    if text == "2":
        fresh = dataclasses.replace(session, dialog_id=inbound.message_id or session.dialog_id, step=STEPS[0].name,
                                    answers=Answers(), media=[], meter=None, register_index=0, pending=None)
        return Outcome(fresh, [rules.catalogue.text("restart", lang) + " " + prompt(fresh, rules)])
    if text != "1":
        raise Refused("confirm")
    return Outcome(None, [rules.catalogue.text("confirmed", lang)],
                   effects=[FinishRequest(confirmed(session, inbound.sender, now))])


def confirmed(session: Session, mobile: str, now: datetime) -> ConfirmedRequest:
    """The request the subscriber just confirmed, from the session's answers."""
    a, meter = session.answers, session.meter
    assert meter is not None
    return ConfirmedRequest(dialog_id=session.dialog_id, bill_id=a.bill_id, national_id=a.national_id, mobile=mobile,
                            readings=dict(a.readings), wraps=tuple(a.wraps),
                            reading_date=date.fromisoformat(a.reading_date), description=a.description,
                            receipt_reference=a.receipt_reference, attachments=tuple(session.media),
                            language=session.language, registers=tuple(r.name for r in meter.registers),
                            confirmed_at=now.replace(microsecond=0))


def summary(session: Session, rules: Rules) -> str:
    cat, lang, a = rules.catalogue, session.language, session.answers
    readings = "\n".join(f"{cat.register(n, lang)} {v}" for n, v in a.readings.items())
    return cat.text("summary", lang, bill=a.bill_id, nid4=a.national_id[-4:], readings=readings,
                    date=to_jalali_str(date.fromisoformat(a.reading_date)))


STEPS: tuple[Step, ...] = (
    Step("bill", _bill),
    Step("nid", _nid),
    Step("reading", _reading, ask=_ask_reading, help=_help_reading),    # once per register, in card order
    Step("date", _date),
    Step("desc", _desc),
    Step("receipt", _receipt, media_answers=True),
    Step("card", _card, media_answers=True, applies=lambda rules: rules.require_national_card),
    Step("confirm", _confirm, ask=summary),
)
STEP: dict[str, Step] = {step.name: step for step in STEPS}
