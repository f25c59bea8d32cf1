"""The dialog's data: what comes in, what the rules are, what goes out. Plain, frozen, JSON-friendly."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dialogs.catalogue import Catalogue

REGISTER_ORDER = ("low", "mid", "peak", "reactive", "friday", "demand")

Session = dict[str, Any]


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class Inbound:
    """One SMS: who sent it, what it said, its gateway id (dedupe and dialog id), any MMS media."""
    sender: str
    text: str
    message_id: str = ""
    media: tuple[Media, ...] = ()


@dataclass(frozen=True)
class Register:
    name: str
    digits: int
    decimals: int = 0
    last: str = ""


@dataclass(frozen=True)
class Meter:
    """What the subscriber system says of a bill: the registers to ask for and their last readings."""
    bill_id: str
    kind: str
    registers: tuple[Register, ...]
    last_date: str = ""
    multiplier: int = 1
    contract_kw: float = 0.0
    daily_kwh: float = 0.0

    def to_session(self) -> dict[str, Any]:
        regs = sorted(self.registers, key=lambda r: REGISTER_ORDER.index(r.name))
        return {"kind": self.kind, "last_date": self.last_date, "mult": self.multiplier,
                "kw": self.contract_kw, "daily": self.daily_kwh,
                "regs": [[r.name, r.digits, r.decimals, r.last] for r in regs]}


@dataclass(frozen=True)
class Rules:
    """Every bound comes from configuration; the defaults here only serve tests."""
    catalogue: Catalogue
    idle_minutes: int = 30
    default_language: str = "fa"
    description_max: int = 300
    usual_factor: float = 3.0
    hours_per_day: float = 24.0
    connection_kw: float = 25.0
    demand_factor: float = 1.2
    require_receipt: bool = False
    require_national_card: bool = False


@dataclass
class Outcome:
    """The new session (None = no dialog), replies to send now, effects for after the save, a query to answer."""
    session: Session | None
    replies: list[str] = field(default_factory=list)
    effects: list[dict[str, Any]] = field(default_factory=list)
    query: dict[str, Any] | None = None
