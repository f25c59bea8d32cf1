"""USSD's own screens over the same dialog: the dial (the dialog where it was, else the numbered menu) and the
menu's choices. A keypad sends digits, `*` and `#` only; every other answer goes to the same steps as an SMS."""

from __future__ import annotations

import re
from datetime import datetime

from dialogs import report, status, steps
from dialogs.model import Inbound, Outcome, Rules, Session

CHANNEL = "ussd"
MENU = "menu"  # a session parked on the menu: it only keeps the language chosen with 3
_BILL = re.compile("[0-9]{6,13}")  # a bill ID in the dial string (`*code*1234567804121#`) or typed at the menu


def screen(session: Session | None, inbound: Inbound, text: str, now: datetime, rules: Rules) -> Outcome | None:
    """The USSD screen for this input, or None when the input answers the open dialog's step."""
    at_menu = session is None or session.step == MENU
    lang = session.language if session else rules.default_language
    if not text:  # a dial: resume the dialog at the same step, else show the menu
        if session is not None and not at_menu:
            return Outcome(session, [steps.prompt(session, rules)])
        return menu(inbound, lang, now, rules)
    if not at_menu:
        return None
    if text == "1":
        fresh = steps.new_session(inbound.message_id, lang, now, CHANNEL)
        return Outcome(fresh, [steps.prompt(fresh, rules)])
    if text == "2":
        return status.inquire(None, "", inbound.sender, lang, rules)
    if text == "3":
        return menu(inbound, "en" if lang == "fa" else "fa", now, rules)
    if _BILL.fullmatch(text):
        return report.start(inbound, lang, [text], now, rules)
    return menu(inbound, lang, now, rules)


def menu(inbound: Inbound, lang: str, now: datetime, rules: Rules) -> Outcome:
    """The numbered menu, with a session parked on it: the screen waits for a choice (and keeps the language)."""
    parked = Session(inbound.message_id, lang, MENU, now.replace(microsecond=0), channel=CHANNEL)
    return Outcome(parked, [rules.catalogue.text("menu", lang)])
