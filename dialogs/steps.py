"""The reading dialog: one small handler per step, and STEPS, the one table that says their order."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from dialogs import reading
from dialogs.errors import Refused, refusal_text
from dialogs.ids import parse_electricity_bill_id, parse_national_id
from dialogs.jalali import parse_reading_date, to_jalali_str
from dialogs.model import (
    Answers,
    Attachment,
    BillLookup,
    ConfirmedRequest,
    FinishRequest,
    Inbound,
    Meter,
    Outcome,
    Rules,
    Session,
)
from dialogs.text import clean_free_text, compact_number

# A handler applies an answer to the session: None = accepted, go on to the next step; an Outcome = say this
# and stay (or ask the outside world a question); a Refused = the answer is wrong, ask again.
Handler = Callable[[Session, str, Inbound, datetime, Rules], Outcome | None]
Words = Callable[[Session, Rules], str]


@dataclass(frozen=True)
class Step:
    """One row of the dialog: its handler, how it asks and helps (default: the catalogue's ask_<name>, help_<name>)."""

    name: str
    handle: Handler
    ask: Words | None = None
    help: Words | None = None
    media_answers: bool = False  # an MMS without text answers this step (as "0")
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
    text = text if step.name == "desc" else rules.catalogue.unlabelled(step.name, text)
    session.media.extend(Attachment(m.url, m.content_type, step.name) for m in inbound.media)
    if inbound.media and not text:
        if not step.media_answers:
            return Outcome(session, [rules.catalogue.text("media_kept", session.language), prompt(session, rules)])
        text = "0"
    try:
        outcome = step.handle(session, text, inbound, now, rules)
    except Refused as err:
        return Outcome(session, [refusal_text(err, session.language, rules.catalogue) + "\n" + prompt(session, rules)])
    return _next(session, rules) if outcome is None else outcome


def _next(session: Session, rules: Rules) -> Outcome:
    """Move to the next step of the table that applies under these rules, and ask its question."""
    later = STEPS[[s.name for s in STEPS].index(session.step) + 1 :]
    session.step = next(s.name for s in later if s.applies(rules))
    return Outcome(session, [prompt(session, rules)])


def new_session(dialog_id: str, lang: str, now: datetime, channel: str = "twilio") -> Session:
    """A fresh dialog; its id is the gateway id of the message that started it (deterministic, unique)."""
    return Session(dialog_id, lang, STEPS[0].name, now.replace(microsecond=0), channel=channel)


def _bill(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    """The bill ID, checked here; whether the utility knows it comes back through bill_found."""
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


def _nid(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> None:
    session.answers.national_id = parse_national_id(compact_number(text))
    session.register_index = 0


def _date(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> None:
    assert session.meter is not None
    last = session.meter.last_date
    day = parse_reading_date(text, now.date(), date.fromisoformat(last) if last else None)
    if not reading.plausible_on(session, day, rules):
        raise Refused("date_implausible")
    session.answers.reading_date = day.isoformat()


def _desc(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> None:
    free = clean_free_text(inbound.text)
    if len(free) > rules.description_max:
        raise Refused("desc_long", max=str(rules.description_max))
    session.answers.description = "" if text == "0" else free


def _receipt(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> None:
    ref = compact_number(text)
    if ref != "0" and not re.fullmatch("[0-9]{4,20}", ref):  # not isdigit(): it accepts superscripts
        if not inbound.media:
            raise Refused("receipt")
        ref = "0"  # a photo of the receipt with a caption: the photo is the receipt
    if ref == "0" and rules.require_receipt and not inbound.media:
        raise Refused("receipt_required")
    session.answers.receipt_reference = "" if ref == "0" else ref


def _card(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> None:
    """Where the national ID card's image is required, only an MMS photo moves on."""
    if not inbound.media:
        raise Refused("card_required")


def _confirm(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    lang = session.language
    if text == "2":
        fresh = dataclasses.replace(
            session,
            dialog_id=inbound.message_id or session.dialog_id,
            step=STEPS[0].name,
            answers=Answers(),
            media=[],
            meter=None,
            register_index=0,
            pending=None,
            queued=[],
            quick=False,
        )
        return Outcome(fresh, [rules.catalogue.text("restart", lang) + " " + prompt(fresh, rules)])
    if text != "1":
        raise Refused("confirm")
    return Outcome(
        None,
        [rules.catalogue.text("confirmed", lang)],
        effects=[FinishRequest(confirmed(session, inbound.sender, now, inbound.channel))],
    )


def confirmed(session: Session, mobile: str, now: datetime, channel: str = "twilio") -> ConfirmedRequest:
    """The request the subscriber just confirmed, from the session's answers, by the channel it came in by."""
    a, meter = session.answers, session.meter
    assert meter is not None
    return ConfirmedRequest(
        dialog_id=session.dialog_id,
        bill_id=a.bill_id,
        national_id=a.national_id,
        mobile=mobile,
        readings=dict(a.readings),
        wraps=tuple(a.wraps),
        reading_date=date.fromisoformat(a.reading_date),
        description=a.description,
        receipt_reference=a.receipt_reference,
        attachments=tuple(session.media),
        language=session.language,
        registers=tuple(r.name for r in meter.registers),
        confirmed_at=now.replace(microsecond=0),
        channel=channel,
    )


def summary(session: Session, rules: Rules) -> str:
    cat, lang, a = rules.catalogue, session.language, session.answers
    readings = "\n".join(f"{cat.register(n, lang)} {v}" for n, v in a.readings.items())
    return cat.text(
        "summary",
        lang,
        bill=a.bill_id,
        nid4=a.national_id[-4:],
        readings=readings,
        date=to_jalali_str(date.fromisoformat(a.reading_date)),
    )


STEPS: tuple[Step, ...] = (
    Step("bill", _bill),
    Step("nid", _nid),
    Step("reading", reading.handle, ask=reading.ask, help=reading.help_text),  # once per register, card order
    Step("date", _date),
    Step("desc", _desc),
    Step("receipt", _receipt, media_answers=True),
    Step("card", _card, media_answers=True, applies=lambda rules: rules.require_national_card),
    Step("confirm", _confirm, ask=summary),
)
STEP: dict[str, Step] = {step.name: step for step in STEPS}
