"""The sandbox's illustrative out-of-cycle bill and review checks (pure): the real bill comes from the utility.

Consumption and the bounds come from dialogs.meters, the same arithmetic the dialog checks readings with."""

from __future__ import annotations

import datetime
import math
from collections.abc import Collection, Mapping
from typing import Protocol

import jdatetime

from dialogs.ids import make_payment_id
from dialogs.meters import ENERGY, demand_limit, is_unusual
from dialogs.model import Meter

USUAL_FACTOR = 3.0  # the utility's own check: daily use above usual × this goes to review
DEMAND_FACTOR = 1.2  # a demand above contract × this goes to review
DAYS_PER_MONTH = 30


class Rates(Protocol):
    """The `tariff` settings (a Protocol, so adapters do not import sms_gateway)."""

    @property
    def residential_tiers(self) -> list[list[int]]: ...
    @property
    def time_of_use(self) -> dict[str, float]: ...
    @property
    def industrial_rial_per_kwh(self) -> float: ...
    @property
    def demand_rial_per_kw_month(self) -> float: ...
    @property
    def reactive_rial_per_kvarh(self) -> float: ...
    @property
    def vat(self) -> float: ...


def tiered_rials(kwh: float, days: int, tiers: list[list[int]]) -> float:
    """Progressive monthly tiers, bounds scaled by days/30 so a short period does not reach dearer tiers early."""
    scale, lower, rials = days / DAYS_PER_MONTH, 0.0, 0.0
    for upper, price in tiers:
        bound = upper * scale if upper else math.inf
        rials += max(0.0, min(kwh, bound) - lower) * price
        if kwh <= bound:
            break
        lower = bound
    return rials


def residential_rials(use: Mapping[str, float], days: int, rates: Rates) -> float:
    """Tiered price of all energy, shared among registers by their time-of-use factors (single-rate: 1)."""
    energy = {name: kwh for name, kwh in use.items() if name in ENERGY}
    total = sum(energy.values())
    if total <= 0:
        return 0.0
    if len(energy) == 1:
        return tiered_rials(total, days, rates.residential_tiers)
    weighted = sum(kwh * rates.time_of_use.get(name, 1.0) for name, kwh in energy.items())
    return tiered_rials(total, days, rates.residential_tiers) * weighted / total


def industrial_rials(use: Mapping[str, float], days: int, contract_kw: float, rates: Rates) -> float:
    """Energy at the industrial price by time of use, the demand charge (contract or read), reactive energy."""
    energy = sum(kwh * rates.time_of_use.get(name, 1.0) for name, kwh in use.items() if name in ENERGY)
    demand_kw = max(contract_kw, use.get("demand", 0.0))
    return (
        energy * rates.industrial_rial_per_kwh
        + demand_kw * rates.demand_rial_per_kw_month * days / DAYS_PER_MONTH
        + use.get("reactive", 0.0) * rates.reactive_rial_per_kvarh
    )


def is_demand_metered(meter: Meter) -> bool:
    """Industrial and other demand-metered meters follow the industrial tariff."""
    return (
        meter.kind.startswith("industrial")
        or meter.contract_kw > 0
        or any(reg.name == "demand" for reg in meter.registers)
    )


def bill_rials(meter: Meter, use: Mapping[str, float], days: int, rates: Rates) -> int:
    """The whole bill with VAT, rounded to 1000 rials as bills are printed (payment IDs carry thousands)."""
    if is_demand_metered(meter):
        net = industrial_rials(use, days, meter.contract_kw, rates)
    else:
        net = residential_rials(use, days, rates)
    return int(math.floor(max(0.0, net) * (1 + rates.vat) / 1000 + 0.5)) * 1000


def payment_id(bill_id: str, amount_rials: int, reading_date: datetime.date) -> str:
    """The شناسه پرداخت for this bill, with the Jalali year and month of the reading as its period."""
    jalali = jdatetime.date.fromgregorian(date=reading_date)
    return make_payment_id(bill_id, amount_rials, year=jalali.year, period=jalali.month)


def review_reason(meter: Meter, use: Mapping[str, float], days: int, wraps: Collection[str]) -> str:
    """The utility's own plausibility checks: a short code when a person must look, "" when a bill can issue."""
    if wraps:
        return "meter_wrapped"
    if any(kwh < 0 for name, kwh in use.items() if name != "demand"):
        return "reading_below_last"
    if is_unusual(meter, sum(kwh for name, kwh in use.items() if name in ENERGY), days, USUAL_FACTOR):
        return "usage_far_above_usual"
    limit = demand_limit(meter, DEMAND_FACTOR)
    if limit is not None and use.get("demand", 0.0) > limit:
        return "demand_above_contract"
    return ""
