"""The compact Redis encoding of an open dialog: the only place that knows its short keys (≤ 1 KB a dialog).

Version 2 is written; a version 1 session (the dict the dialog used to keep) is migrated on load, and anything
unreadable counts as no dialog, so a deploy never crashes a subscriber's open conversation."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from dialogs.model import Answers, Attachment, Meter, Pending, Register, Session
from dialogs.steps import STEP
from dialogs.ussd import MENU

VERSION = 2
log = logging.getLogger("kontor.codec")

# Answers field -> short key; empty answers are left out.
_ANSWER_KEYS = {
    "bill_id": "b",
    "national_id": "n",
    "readings": "r",
    "wraps": "w",
    "reading_date": "d",
    "description": "x",
    "receipt_reference": "c",
}


def dump_session(session: Session) -> dict[str, Any]:
    """The JSON-safe compact form of a dialog session."""
    a = session.answers
    data: dict[str, Any] = {
        "v": VERSION,
        "id": session.dialog_id,
        "l": session.language,
        "s": session.step,
        "t": session.last_active.isoformat(timespec="seconds"),
    }
    answers = {short: getattr(a, name) for name, short in _ANSWER_KEYS.items() if getattr(a, name)}
    if answers:
        data["a"] = answers
    if session.media:
        data["m"] = [[m.url, m.content_type, m.step] for m in session.media]
    if session.meter is not None:
        data["M"] = _dump_meter(session.meter)
    if session.register_index:
        data["i"] = session.register_index
    if session.pending is not None:
        p = session.pending
        data["p"] = [p.value, p.reason, int(p.wrapped), p.kwh]
    if session.channel != "twilio":
        data["c"] = session.channel
    if session.queued:
        data["q"] = list(session.queued)
    if session.quick:
        data["k"] = 1
    return data


def _dump_meter(m: Meter) -> list[Any]:
    return [
        m.bill_id,
        m.kind,
        m.last_date,
        m.multiplier,
        m.contract_kw,
        m.daily_kwh,
        [[r.name, r.digits, r.decimals, r.last] for r in m.registers],
    ]


def load_session(data: Any) -> Session | None:
    """The dialog session back from its compact form; None (no dialog) when it cannot be read."""
    try:
        if isinstance(data, dict) and data.get("v") in (1, VERSION):
            session = _load(data) if data["v"] == VERSION else _from_v1(data)
            known = session.step in STEP or session.step == MENU  # MENU: a USSD menu screen waiting for a choice
            if not known or (session.meter is None and session.step not in ("bill", "nid", MENU)):
                raise ValueError(f"no such step as {session.step!r} here")
            return session
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        log.warning("unreadable dialog session dropped: %r", exc)
        return None
    log.warning("dialog session of unknown version dropped")
    return None


def _load(data: dict[str, Any]) -> Session:
    a = data.get("a", {})
    answers = Answers(**{name: a[short] for name, short in _ANSWER_KEYS.items() if short in a})
    p = data.get("p")
    return Session(
        dialog_id=str(data["id"]),
        language=str(data["l"]),
        step=str(data["s"]),
        last_active=datetime.fromisoformat(data["t"]),
        answers=answers,
        media=[Attachment(url, kind, step) for url, kind, step in data.get("m", [])],
        meter=_load_meter(data["M"]) if "M" in data else None,
        register_index=int(data.get("i", 0)),
        pending=Pending(str(p[0]), str(p[1]), bool(p[2]), int(p[3])) if p else None,
        channel=str(data.get("c", "twilio")),
        queued=[str(part) for part in data.get("q", [])],
        quick=bool(data.get("k", 0)),
    )


def _load_meter(m: list[Any]) -> Meter:
    bill_id, kind, last_date, multiplier, contract_kw, daily_kwh, registers = m
    return Meter(
        bill_id,
        kind,
        tuple(Register(n, int(d), int(dec), str(last)) for n, d, dec, last in registers),
        last_date,
        int(multiplier),
        float(contract_kw),
        float(daily_kwh),
    )


def _from_v1(old: dict[str, Any]) -> Session:
    """The dict a dialog kept before the typed Session (short keys, registers as lists): migrated as it stands."""
    answers = old.get("answers", {})
    meter, pending = old.get("meter"), old.get("pending")
    return Session(
        dialog_id=str(old["id"]),
        language=str(old["lang"]),
        step=str(old["step"]),
        last_active=datetime.fromisoformat(old["at"]),
        answers=Answers(**{k: v for k, v in answers.items() if k in _ANSWER_KEYS}),
        media=[Attachment(m["url"], m["content_type"], m.get("step", "")) for m in old.get("media", [])],
        meter=None
        if meter is None
        else _load_meter(
            [
                answers.get("bill_id", ""),
                meter["kind"],
                meter.get("last_date", ""),
                meter.get("mult", 1),
                meter.get("kw", 0.0),
                meter.get("daily", 0.0),
                meter["regs"],
            ]
        ),
        register_index=int(old.get("ri", 0)),
        pending=None
        if pending is None
        else Pending(pending["value"], pending["why"], bool(pending.get("wrapped")), int(pending.get("kwh", 0))),
    )
