"""INQUIRE: ask for the phone's requests, then word the answer; a stranger's number reads like a missing one."""

from __future__ import annotations

from dialogs.errors import Refused, refusal_text
from dialogs.ids import parse_tracking_number
from dialogs.model import Outcome, RequestStatus, Rules, Session, StatusLookup
from dialogs.text import compact_number


def inquire(session: Session | None, rest: str, sender: str, lang: str, rules: Rules) -> Outcome:
    """INQUIRE alone lists the phone's requests; INQUIRE <number> asks for one (checked for typos first)."""
    tracking = None
    if rest:
        try:
            tracking = parse_tracking_number(compact_number(rest))
        except Refused as err:
            return Outcome(session, [refusal_text(err, lang, rules.catalogue)])
    return Outcome(session, [], query=StatusLookup(sender, tracking, lang))


def status_replies(query: StatusLookup, found: list[RequestStatus], rules: Rules) -> list[str]:
    """Status lines for the phone's own requests (at most three)."""
    cat, lang = rules.catalogue, query.language
    if not found:
        return [cat.text("not_found" if query.tracking else "no_requests", lang)]
    lines = [_status_line(r, lang, rules) for r in found[:3]]
    if query.tracking:
        return lines[:1]
    return [cat.text("status_list", lang, lines="\n".join(lines))]


def _status_line(row: RequestStatus, lang: str, rules: Rules) -> str:
    """An issued bill shows its amount and payment ID; other statuses their name and date."""
    cat = rules.catalogue
    if row.status == "bill_issued" and row.payment_id:
        return cat.text(
            "status_bill", lang, tracking=row.tracking_number, amount=f"{row.amount or 0:,}", payment_id=row.payment_id
        )
    return cat.text(
        "status", lang, tracking=row.tracking_number, status=cat.status(row.status, lang), date=row.updated_jalali
    )
