"""Shared helpers for the dialog unit tests: the rules, the demo meters and a `Phone` that walks a conversation."""

from __future__ import annotations

import dataclasses
import sys
import types
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import dialogs
from dialogs import (
    BillLookup,
    ConfirmedRequest,
    Effect,
    FinishRequest,
    Inbound,
    Media,
    Meter,
    Query,
    Register,
    RequestStatus,
    Rules,
    Session,
)
from dialogs.catalogue import Catalogue

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "dialogs" / "messages.yaml"

RULES = Rules(Catalogue.from_yaml(MESSAGES.read_text(encoding="utf-8")))
CAT = RULES.catalogue

LAST_DATE = "2026-10-27"  # 1405/08/05
# 1405/09/05 10:00 Tehran time: a month after the last reading.
START = datetime(2026, 11, 26, 10, 0, 0)

SINGLE = "1234567804121"
TOU = "2345678904125"
INDUSTRIAL = "3456789004123"
SINGLE_2 = "4567890104120"
WATER_BILL = "1234567804113"  # checksum-valid, service digit 1 (water)
UNKNOWN_BILL = "9876543204124"  # checksum-valid electricity bill that the subscriber system does not know
NID = "0012345679"
NID_2 = "1234567891"
TRACKING = "140509050012"  # Damm-valid 12 digits
TRACKING_2 = "140509050020"

METERS: dict[str, Meter] = {
    SINGLE: Meter(SINGLE, "single", (Register("mid", 5, 0, "04512"),), LAST_DATE, daily_kwh=7),
    TOU: Meter(
        TOU,
        "tou",
        (Register("peak", 6, 0, "004000"), Register("low", 6, 0, "012000"), Register("mid", 6, 0, "023000")),
        LAST_DATE,
        daily_kwh=10,
    ),
    INDUSTRIAL: Meter(
        INDUSTRIAL,
        "industrial",
        (
            Register("low", 6, 0, "100000"),
            Register("mid", 6, 0, "200000"),
            Register("peak", 6, 0, "050000"),
            Register("reactive", 6, 0, "080000"),
            Register("friday", 6, 0, "010000"),
            Register("demand", 3, 2, "120"),
        ),
        LAST_DATE,
        multiplier=40,
        contract_kw=150,
        daily_kwh=1300,
    ),
    SINGLE_2: Meter(SINGLE_2, "single", (Register("mid", 5, 0, "30500"),), LAST_DATE, daily_kwh=8),
}

# Registers of each demo meter in service-card order (low, mid, peak, reactive, friday, demand).
CARD_ORDER = {
    SINGLE: ["mid"],
    TOU: ["low", "mid", "peak"],
    INDUSTRIAL: ["low", "mid", "peak", "reactive", "friday", "demand"],
    SINGLE_2: ["mid"],
}


def t(key: str, lang: str = "fa", **params: Any) -> str:
    """The catalogue text the dialog should send."""
    return CAT.text(key, lang, **params)


class Phone:
    """One subscriber's handset talking to the pure dialog: holds the session and a fake clock, answers queries."""

    def __init__(
        self,
        sender: str = "+989121234567",
        *,
        now: datetime = START,
        meters: dict[str, Meter] | None = None,
        statuses: dict[str, list[dict[str, str]]] | None = None,
        rules: Rules = RULES,
        channel: str = "twilio",
    ) -> None:
        self.sender = sender
        self.channel = channel
        self.now = now
        self.meters = METERS if meters is None else meters
        # status lookups: key = tracking number, or "*" + phone for "all my requests"
        self.statuses = statuses or {}
        self.rules = rules
        self.session: Session | None = None
        self.effects: list[Effect] = []
        self.queries: list[Query] = []
        self.last_replies: list[str] = []
        self._n = 0

    @property
    def step(self) -> str | None:
        return self.session.step if self.session else None

    @property
    def answers(self) -> dict[str, Any]:
        """The answers given so far (those not given left out), as a dict that is easy to compare."""
        if self.session is None:
            return {}
        return {k: v for k, v in dataclasses.asdict(self.session.answers).items() if v}

    def wait(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)

    def send(self, text: str, media: tuple[Media, ...] = (), message_id: str | None = None) -> list[str]:
        """Send one SMS/MMS; returns every reply (after any query is answered). Effects accumulate."""
        self._n += 1
        inbound = Inbound(self.sender, text, message_id or f"SM{self._n:04d}", media, self.channel)
        outcome = dialogs.advance(self.session, inbound, self.now, self.rules)
        replies = list(outcome.replies)
        self.effects.extend(outcome.effects)
        while outcome.query is not None:
            query = outcome.query
            self.queries.append(query)
            outcome = dialogs.resume(outcome.session, query, self.answer(query), self.now, self.rules)
            replies.extend(outcome.replies)
            self.effects.extend(outcome.effects)
        self.session = outcome.session
        self.last_replies = replies
        return replies

    def answer(self, query: Query) -> Meter | list[RequestStatus] | None:
        if isinstance(query, BillLookup):
            return self.meters.get(query.bill_id)
        key = query.tracking or "*" + query.phone
        return [RequestStatus(**row) for row in self.statuses.get(key, [])]

    def confirmed(self) -> list[ConfirmedRequest]:
        return [e.request for e in self.effects if isinstance(e, FinishRequest)]

    def finished(self) -> list[dict[str, Any]]:
        """The confirmed requests as the finishing job receives them (ConfirmedRequest.to_json())."""
        return [request.to_json() for request in self.confirmed()]


@pytest.fixture(scope="session")
def kit() -> types.ModuleType:
    """This module: the constants, `t` and `Phone`, without relying on `import conftest` (ambiguous across dirs)."""
    return sys.modules[__name__]


@pytest.fixture(scope="session")
def rules() -> Rules:
    return RULES


@pytest.fixture
def phone() -> Phone:
    return Phone()
