"""Meter arithmetic: consumption from two register values, wraps past 10^digits, plausibility bounds."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dialogs.model import Rules

ENERGY = ("low", "mid", "peak", "friday")


@dataclass(frozen=True)
class Verdict:
    """What a reading needs: 'ok', 'wrap' (lower than last: ask), 'unusual' (ask), or 'impossible' (reject)."""
    kind: str
    consumption: float = 0.0


def consumption(value: str, last: str, digits: int, multiplier: float, wrapped: bool) -> float:
    """(this − last) × multiplier; a meter that rolled over past 10^digits adds one full turn."""
    delta = float(value) - float(last or 0)
    if wrapped:
        delta += 10 ** digits
    return delta * multiplier


def days_since(last_date: str, day: date) -> int:
    return max(1, (day - date.fromisoformat(last_date)).days) if last_date else 1


def physical_bound(meter: dict[str, Any], days: int, rules: Rules) -> float:
    """The most energy the connection can carry: contract (or connection) kW × hours × days."""
    kw = meter.get("kw") or rules.connection_kw
    return kw * rules.hours_per_day * days


def judge(meter: dict[str, Any], register: list[Any], value: str, wrapped: bool, days: int, rules: Rules) -> Verdict:
    """Check one energy reading against the last one, the physical bound and the usual use."""
    name, digits, _, last = register
    if name not in ENERGY + ("reactive",) or not last:
        return Verdict("ok")
    if not wrapped and float(value) < float(last):
        return Verdict("wrap")
    used = consumption(value, last, digits, meter.get("mult", 1), wrapped)
    if name == "reactive":
        return Verdict("ok", used)
    if used > physical_bound(meter, days, rules):
        return Verdict("impossible", used)
    usual = meter.get("daily", 0) * days * rules.usual_factor
    if usual and used > usual:
        return Verdict("unusual", used)
    return Verdict("ok", used)


def demand_too_high(meter: dict[str, Any], value: str, rules: Rules) -> float | None:
    """The highest believable demand (contract × factor) when the reading is above it, else None."""
    contract = meter.get("kw") or 0
    limit = contract * rules.demand_factor
    return limit if contract and float(value) > limit else None
