"""The steps of the reading dialog, one small function each, in the order the service card asks."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Callable

from dialogs.ids import CodedError, parse_electricity_bill_id, parse_national_id, parse_tracking_number
from dialogs.jalali import parse_reading_date, to_jalali_str
from dialogs.meters import ENERGY, consumption, days_since, demand_too_high, judge, physical_bound
from dialogs.model import Inbound, Outcome, Rules, Session
from dialogs.text import clean_free_text, compact_number


class Reject(CodedError):
    """An answer that fails a check: the reply names the problem and asks again."""


def prompt(session: Session, rules: Rules) -> str:
    cat, lang, step = rules.catalogue, session["lang"], session["step"]
    if step == "reading":
        name, digits, _, last = _register(session)
        if "pending" in session:
            return _pending_question(session, rules)
        key = "ask_demand" if name == "demand" else "ask_reading"
        return cat.text(key, lang, register=cat.register(name, lang), digits=digits, last=last or "-")
    if step == "confirm":
        return summary(session, rules)
    return cat.text(f"ask_{step}", lang)


def help_text(session: Session, rules: Rules) -> str:
    cat, lang, step = rules.catalogue, session["lang"], session["step"]
    if step == "reading":
        return cat.text("help_reading", lang, register=cat.register(_register(session)[0], lang))
    return cat.text(f"help_{step}", lang)


def answer(session: Session, inbound: Inbound, text: str, now: datetime, rules: Rules) -> Outcome:
    """Apply one answer to the current step; a rejected answer keeps everything already given."""
    session["media"].extend({"url": m.url, "content_type": m.content_type, "step": session["step"]}
                             for m in inbound.media)
    if inbound.media and not text:
        if session["step"] not in ("receipt", "card"):
            return Outcome(session, [rules.catalogue.text("media_kept", session["lang"]), prompt(session, rules)])
        text = "0"
    try:
        return HANDLERS[session["step"]](session, text, inbound, now, rules)
    except CodedError as err:
        return Outcome(session, [_error(err, session["lang"], rules) + "\n" + prompt(session, rules)])


def _error(err: CodedError, lang: str, rules: Rules) -> str:
    params = dict(err.params)
    if "service" in params:
        params["service"] = rules.catalogue.service(params["service"], lang)
    return rules.catalogue.text(f"err_{err.code}", lang, **params)


def _next(session: Session, step: str, rules: Rules) -> Outcome:
    session["step"] = step
    return Outcome(session, [prompt(session, rules)])


def _bill(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    bill = parse_electricity_bill_id(text)
    session["answers"]["bill_id"] = bill.value
    return Outcome(session, [], query={"kind": "bill", "bill_id": bill.value})


def bill_found(session: Session | None, meter: dict[str, Any] | None, rules: Rules) -> Outcome:
    """The subscriber system answered the bill lookup: ask for the meter's registers, or for the bill again."""
    if session is None:
        return Outcome(None, [])
    if meter is None:
        session["answers"].pop("bill_id", None)
        return Outcome(session, [_error(Reject("bill_unknown"), session["lang"], rules) + "\n" + prompt(session, rules)])
    session["meter"] = meter
    return _next(session, "nid", rules)


def _nid(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    session["answers"]["national_id"] = parse_national_id(compact_number(text))
    session["ri"] = 0
    return _next(session, "reading", rules)


def _register(session: Session) -> list[Any]:
    return session["meter"]["regs"][session["ri"]]


_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?")  # ASCII only: \d would store fullwidth or Devanagari digits


def parse_reading(text: str, name: str, digits: int, decimals: int) -> str:
    """A register value: whole digits no longer than the register, decimals only where it has them."""
    match = _NUMBER.fullmatch(compact_number(text))
    if not match or (match.group(2) and not decimals):
        raise Reject("demand" if name == "demand" else "digits")
    whole, frac = match.group(1), match.group(2) or ""
    if len(whole) > digits or len(frac) > decimals:
        raise Reject("demand" if name == "demand" else "reading_length", digits=str(digits))
    return f"{whole}.{frac}" if frac else whole


def _reading(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    """A reading; one lower than the last, or far above the usual use, waits for an explicit `1`."""
    name, digits, decimals, _ = _register(session)
    pending = session.pop("pending", None)
    if pending and text == "1":
        wrapped = pending["why"] == "wrap" or pending.get("wrapped", False)
        return _check_reading(session, pending["value"], wrapped, pending["why"] == "unusual", now, rules)
    return _check_reading(session, parse_reading(text, name, digits, decimals), False, False, now, rules)


def _check_reading(session: Session, value: str, wrapped: bool, confirmed: bool, now: datetime,
                   rules: Rules) -> Outcome:
    meter, register = session["meter"], _register(session)
    if register[0] == "demand":
        limit = demand_too_high(meter, value, rules)
        if limit is not None:
            raise Reject("demand_high", max=f"{limit:g}")
        return _accept_reading(session, value, wrapped, rules)
    verdict = judge(meter, register, value, wrapped, days_since(meter.get("last_date", ""), now.date()), rules)
    if verdict.kind == "impossible":
        raise Reject("too_high")
    if verdict.kind == "wrap" or (verdict.kind == "unusual" and not confirmed):
        session["pending"] = {"value": value, "why": verdict.kind, "wrapped": wrapped, "kwh": round(verdict.consumption)}
        return Outcome(session, [_pending_question(session, rules)])
    return _accept_reading(session, value, wrapped, rules)


def _pending_question(session: Session, rules: Rules) -> str:
    pending, last = session["pending"], _register(session)[3]
    key = "ask_wrap" if pending["why"] == "wrap" else "ask_unusual"
    return rules.catalogue.text(key, session["lang"], value=pending["value"], last=last, kwh=pending["kwh"])


def _accept_reading(session: Session, value: str, wrapped: bool, rules: Rules) -> Outcome:
    name = _register(session)[0]
    session["answers"].setdefault("readings", {})[name] = value
    if wrapped:
        session["answers"].setdefault("wraps", []).append(name)
    session["ri"] += 1
    if session["ri"] < len(session["meter"]["regs"]):
        return _next(session, "reading", rules)
    del session["ri"]
    return _next(session, "date", rules)


def _date(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    last = session["meter"].get("last_date")
    not_before = date.fromisoformat(last) if last else None
    day = parse_reading_date(text, now.date(), not_before)
    if not _plausible_on(session, day, rules):
        raise Reject("date_implausible")
    session["answers"]["reading_date"] = day.isoformat()
    return _next(session, "desc", rules)


def _plausible_on(session: Session, day: date, rules: Rules) -> bool:
    """Readings checked against today must still fit the physical bound for the date actually given."""
    meter, answers = session["meter"], session["answers"]
    bound = physical_bound(meter, days_since(meter.get("last_date", ""), day), rules)
    for name, digits, _, last in meter["regs"]:
        if name in ENERGY and last and name in answers["readings"]:
            used = consumption(answers["readings"][name], last, digits, meter.get("mult", 1),
                               name in answers.get("wraps", []))
            if used > bound:
                return False
    return True


def _desc(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    free = clean_free_text(inbound.text)
    if len(free) > rules.description_max:
        raise Reject("desc_long", max=str(rules.description_max))
    session["answers"]["description"] = "" if text == "0" else free
    return _next(session, "receipt", rules)


def _receipt(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    ref = compact_number(text)
    if ref != "0" and not re.fullmatch("[0-9]{4,20}", ref):  # not isdigit(): it accepts superscripts
        if not inbound.media:
            raise Reject("receipt")
        ref = "0"  # a photo of the receipt with a caption: the photo is the receipt
    if ref == "0" and rules.require_receipt and not inbound.media:
        raise Reject("receipt_required")
    session["answers"]["receipt_reference"] = "" if ref == "0" else ref
    return _next(session, "card" if rules.require_national_card else "confirm", rules)


def _card(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    """Where the national ID card's image is required, only an MMS photo moves on."""
    if not inbound.media:
        raise Reject("card_required")
    return _next(session, "confirm", rules)


def _confirm(session: Session, text: str, inbound: Inbound, now: datetime, rules: Rules) -> Outcome:
    lang = session["lang"]
    if text == "2":
        fresh = {**session, "id": inbound.message_id or session["id"], "step": "bill", "answers": {}, "media": []}
        fresh.pop("meter", None)
        return Outcome(fresh, [rules.catalogue.text("restart", lang) + " " + prompt(fresh, rules)])
    if text != "1":
        raise Reject("confirm")
    request = {**session["answers"], "dialog_id": session["id"], "mobile": inbound.sender, "language": lang,
               "attachments": session["media"], "registers": [r[0] for r in session["meter"]["regs"]],
               "confirmed_at": now.isoformat(timespec="seconds")}
    return Outcome(None, [rules.catalogue.text("confirmed", lang)], effects=[{"type": "finish_request", "request": request}])


HANDLERS: dict[str, Callable[[Session, str, Inbound, datetime, Rules], Outcome]] = {
    "bill": _bill, "nid": _nid, "reading": _reading, "date": _date,
    "desc": _desc, "receipt": _receipt, "card": _card, "confirm": _confirm,
}


def summary(session: Session, rules: Rules) -> str:
    cat, lang, a = rules.catalogue, session["lang"], session["answers"]
    readings = "\n".join(f"{cat.register(n, lang)} {v}" for n, v in a["readings"].items())
    return cat.text("summary", lang, bill=a["bill_id"], nid4=a["national_id"][-4:], readings=readings,
                    date=to_jalali_str(date.fromisoformat(a["reading_date"])))


def inquire(session: Session | None, rest: str, sender: str, lang: str, rules: Rules) -> Outcome:
    """INQUIRE alone lists the phone's requests; INQUIRE <number> asks for one (checked for typos first)."""
    tracking = None
    if rest:
        try:
            tracking = parse_tracking_number(compact_number(rest))
        except CodedError as err:
            return Outcome(session, [_error(err, lang, rules)])
    return Outcome(session, [], query={"kind": "status", "phone": sender, "tracking": tracking, "lang": lang})


def status_replies(query: dict[str, Any], found: list[dict[str, str]], rules: Rules) -> list[str]:
    """Status lines for the phone's own requests; a stranger's number reads exactly like a missing one."""
    cat, lang = rules.catalogue, query["lang"]
    if not found:
        return [cat.text("not_found" if query["tracking"] else "no_requests", lang)]
    lines = [_status_line(r, lang, rules) for r in found[:3]]
    if query["tracking"]:
        return lines[:1]
    return [cat.text("status_list", lang, lines="\n".join(lines))]



def _status_line(row: dict[str, Any], lang: str, rules: Rules) -> str:
    """An issued bill shows its amount and payment ID; other statuses their name and date."""
    cat = rules.catalogue
    if row["status"] == "bill_issued" and row.get("payment_id"):
        return cat.text("status_bill", lang, tracking=row["tracking_number"], amount=f"{row['amount']:,}",
                        payment_id=row["payment_id"])
    return cat.text("status", lang, tracking=row["tracking_number"], status=cat.status(row["status"], lang),
                    date=row["updated_jalali"])
