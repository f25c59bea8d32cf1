"""Meter arithmetic, once: consumption from two register values, wraps past 10^digits, plausibility bounds.

Used by the dialog (to ask before accepting a strange reading) and by the sandbox's tariff (to bill it)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from dialogs.model import Meter, Register, Rules

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
        delta += 10**digits
    return delta * multiplier


def register_use(meter: Meter, register: Register, value: str, wrapped: bool) -> float:
    """What one register measured since its last reading (kWh or kvarh); a demand register reads kW as is."""
    if register.name == "demand":
        return float(value)
    return consumption(value, register.last, register.digits, meter.multiplier, wrapped)


def use_per_register(meter: Meter, readings: Mapping[str, str], wraps: Collection[str]) -> dict[str, float]:
    """Every register's use after the multiplier, rounded as the bill prints it."""
    return {
        reg.name: round(register_use(meter, reg, readings[reg.name], reg.name in wraps), 3) for reg in meter.registers
    }


def days_since(last_date: str, day: date) -> int:
    """Days between the last reading and `day`, at least one, so a same-day reading still counts."""
    return max(1, (day - date.fromisoformat(last_date)).days) if last_date else 1


def physical_bound(meter: Meter, days: int, rules: Rules) -> float:
    """The most energy the connection can carry: contract (or connection) kW × hours × days."""
    kw = meter.contract_kw or rules.connection_kw
    return kw * rules.hours_per_day * days


def judge(meter: Meter, register: Register, value: str, wrapped: bool, days: int, rules: Rules) -> Verdict:
    """Check one energy reading against the last one, the physical bound and the usual use."""
    if register.name not in ENERGY + ("reactive",) or not register.last:
        return Verdict("ok")
    if not wrapped and float(value) < float(register.last):
        return Verdict("wrap")
    used = register_use(meter, register, value, wrapped)
    if register.name == "reactive":
        return Verdict("ok", used)
    if used > physical_bound(meter, days, rules):
        return Verdict("impossible", used)
    if is_unusual(meter, used, days, rules.usual_factor):
        return Verdict("unusual", used)
    return Verdict("ok", used)


def is_unusual(meter: Meter, used_kwh: float, days: int, factor: float) -> bool:
    """Energy above the meter's usual daily use × days × factor (a meter with no usual use never is)."""
    usual = meter.daily_kwh * days * factor
    return bool(usual) and used_kwh > usual


def demand_limit(meter: Meter, factor: float) -> float | None:
    """The highest believable demand, contract × factor; None when the meter has no contract."""
    return meter.contract_kw * factor if meter.contract_kw else None


def demand_too_high(meter: Meter, value: str, rules: Rules) -> float | None:
    """The highest believable demand (contract × factor) when the reading is above it, else None."""
    limit = demand_limit(meter, rules.demand_factor)
    return limit if limit is not None and float(value) > limit else None
