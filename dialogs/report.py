"""The one-SMS report: `قرائت <bill ID> <national ID> <readings in card order>` answers the dialog in one message.

Its parts wait in the session (`queued`) and are applied one by one as the dialog reaches their step, so the bill
lookup (a query the caller answers) can come between them; the first part that needs an answer stops the feed.
"""

from __future__ import annotations

import re
from datetime import datetime

from dialogs import steps
from dialogs.catalogue import Catalogue
from dialogs.model import Inbound, Outcome, Rules
from dialogs.text import bare_digits

_SEPARATORS = "[\\s*#,\u060c]+"  # spaces, the keypad's * and #, commas (Latin and Persian)
_HEAD = re.compile(f"([^\\s*#,\u060c]+){_SEPARATORS}(.+)")
_PARTS = re.compile(f"[0-9.]+(?:{_SEPARATORS}[0-9.]+)*")
_BILL_LIKE = re.compile("[0-9]{6,13}")
_FED = ("bill", "nid", "reading")  # the steps a report's parts answer, in the order they are typed
_DEFAULTS = ("date", "desc", "receipt")  # answered "0" in a report: today, no description, no receipt
_SHORTEST_NID = 8  # a national ID typed without its leading zeros; readings are shorter


def parse(text: str, catalogue: Catalogue) -> tuple[str, list[str]] | None:
    """(language, parts) when the normalised message is the READ keyword followed by numbers only."""
    match = _HEAD.fullmatch(text.strip("*#, "))
    if match is None:
        return None
    keyword = catalogue.keyword(match.group(1))
    if keyword is None or keyword[0] != "read" or not _PARTS.fullmatch(match.group(2)):
        return None
    parts = re.split(_SEPARATORS, match.group(2))
    if not _BILL_LIKE.fullmatch(parts[0]):
        return None  # `قرائت 04620` mid-dialog is a reading with a word before it, not a new report
    return keyword[1], parts


def start(inbound: Inbound, lang: str, parts: list[str], now: datetime, rules: Rules) -> Outcome:
    """A fresh dialog with the report's parts queued, fed as far as they go."""
    fresh = steps.new_session(inbound.message_id, lang, now, inbound.channel)
    fresh.queued, fresh.quick = list(parts), True
    return feed(Outcome(fresh, [steps.prompt(fresh, rules)]), now, rules)


def feed(outcome: Outcome, now: datetime, rules: Rules) -> Outcome:
    """Apply queued parts (and a report's defaults) while each is accepted; stop at a query, a question or a refusal."""
    while (s := outcome.session) is not None and outcome.query is None and s.pending is None:
        if s.step not in _FED:
            s.queued.clear()  # more numbers than the meter has registers: the summary shows what was taken
        if s.queued:
            if s.step == "nid" and len(bare_digits(s.queued[0])) < _SHORTEST_NID:
                return outcome  # no national ID in the message: ask for it, keep the readings
            part = s.queued.pop(0)
        elif s.quick and s.step in _DEFAULTS:
            part = "0"
        else:
            return outcome
        before = (s.step, s.register_index)
        inbound = Inbound("", part, "", channel=s.channel)
        nxt = steps.answer(s, inbound, part, now, rules)
        if nxt.query is None and s.pending is None and (s.step, s.register_index) == before:
            return nxt  # refused: the reply names the problem and asks again; the later parts wait
        outcome = nxt
    return outcome


def waiting(outcome: Outcome) -> bool:
    """Whether the session has report parts or defaults that a feed could apply now."""
    s = outcome.session
    return s is not None and (bool(s.queued) or s.quick)
