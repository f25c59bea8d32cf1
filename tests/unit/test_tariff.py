"""The sandbox's illustrative tariff and review checks, pure: readings, digits, wraps → consumption, bill, reason."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from adapters import tariff
from dialogs.ids import valid_payment_id
from dialogs.meters import days_since, use_per_register
from dialogs.model import Meter, Register
from sms_gateway.settings import load

ROOT = Path(__file__).resolve().parents[2]
RATES = load(ROOT / "config.yaml").tariff  # the shipped tariff, the one the sandbox bills with
LAST = "2026-10-27"  # 1405/08/05
DAY_30 = datetime.date(2026, 11, 26)  # 1405/09/05
DAY_15 = datetime.date(2026, 11, 11)
SAME_DAY = datetime.date(2026, 10, 27)
OTHER_BILL = "4567890104120"

SINGLE = Meter("1234567804121", "residential_single_rate", (Register("mid", 5, 0, "04512"),), LAST, 1, 0, 7)
WORN = dataclasses.replace(SINGLE, registers=(Register("mid", 5, 0, "99950"),))
TOU = Meter(
    "2345678904125",
    "residential_time_of_use",
    (Register("low", 6, 0, "012000"), Register("mid", 6, 0, "023000"), Register("peak", 6, 0, "004000")),
    LAST,
    1,
    0,
    10,
)
INDUSTRIAL = Meter(
    "3456789004123",
    "industrial_demand",
    (
        Register("low", 6, 0, "999990"),
        Register("mid", 6, 0, "200000"),
        Register("peak", 6, 0, "050000"),
        Register("reactive", 6, 0, "080000"),
        Register("friday", 6, 0, "010000"),
        Register("demand", 3, 2, "120"),
    ),
    LAST,
    40,
    150,
    1300,
)
PLANT = {"mid": "200200", "peak": "050050", "reactive": "080030", "friday": "010010"}

CASES = [  # id, meter, readings, wraps, reading date, consumption, bill (rials with VAT), review reason
    ("single-30d-tiers-1-2", SINGLE, {"mid": "04712"}, [], DAY_30, {"mid": 200}, 264_000, ""),
    ("single-15d-bounds-halved", SINGLE, {"mid": "04712"}, [], DAY_15, {"mid": 200}, 462_000, ""),
    ("single-same-day-counts-1d", SINGLE, {"mid": "04517"}, [], SAME_DAY, {"mid": 5}, 6_000, ""),
    ("single-every-tier", SINGLE, {"mid": "05212"}, [], DAY_30, {"mid": 700}, 2_255_000, "usage_far_above_usual"),
    ("single-wrapped-forward", WORN, {"mid": "00050"}, ["mid"], DAY_30, {"mid": 100}, 121_000, "meter_wrapped"),
    ("single-backward-no-wrap", SINGLE, {"mid": "04500"}, [], DAY_30, {"mid": -12}, 0, "reading_below_last"),
    (
        "tou-weighted",
        TOU,
        {"low": "012100", "mid": "023100", "peak": "004100"},
        [],
        DAY_30,
        {"low": 100, "mid": 100, "peak": 100},
        667_000,
        "",
    ),
    (
        "industrial-contract-demand",
        INDUSTRIAL,
        PLANT | {"low": "000090", "demand": "120"},
        ["low"],
        DAY_30,
        {"low": 4000, "mid": 8000, "peak": 2000, "reactive": 1200, "friday": 400, "demand": 120},
        58_359_000,
        "meter_wrapped",
    ),
    (
        "industrial-read-demand-higher",
        INDUSTRIAL,
        PLANT | {"low": "000090", "demand": "160"},
        ["low"],
        DAY_30,
        {"low": 4000, "mid": 8000, "peak": 2000, "reactive": 1200, "friday": 400, "demand": 160},
        58_854_000,
        "meter_wrapped",
    ),
]


def _use(meter: Meter, readings: dict[str, str], wraps: list[str]) -> dict[str, float]:
    return use_per_register(meter, readings, wraps)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_readings_to_consumption_bill_and_reason(case: tuple) -> None:
    _, meter, readings, wraps, day, consumption, bill, reason = case
    use = _use(meter, readings, wraps)
    days = days_since(LAST, day)
    assert use == pytest.approx(consumption)
    assert tariff.bill_rials(meter, use, days, RATES) == bill
    assert tariff.review_reason(meter, use, days, wraps) == reason


@pytest.mark.parametrize("case", [c for c in CASES if c[6] > 0], ids=[c[0] for c in CASES if c[6] > 0])
def test_bill_to_payment_id_and_back(case: tuple) -> None:
    _, meter, _, _, day, _, bill, _ = case
    pid = tariff.payment_id(meter.bill_id, bill, day)
    assert valid_payment_id(meter.bill_id, pid)
    jalali_month = {SAME_DAY: "08", DAY_15: "08", DAY_30: "09"}[day]
    assert pid[:-2] == f"{bill // 1000}5{jalali_month}"  # thousands of rials, year 1405 → 5, month
    assert not valid_payment_id(OTHER_BILL, pid)


def test_unwrapped_industrial_without_review() -> None:
    meter = dataclasses.replace(INDUSTRIAL, registers=(Register("low", 6, 0, "100000"),) + INDUSTRIAL.registers[1:])
    use = _use(meter, PLANT | {"low": "100100", "demand": "185.5"}, [])
    assert use["low"] == 4000 and use["demand"] == 185.5
    assert tariff.review_reason(meter, use, 30, []) == "demand_above_contract"
    assert tariff.bill_rials(meter, use, 30, RATES) == 60_117_000
    assert tariff.review_reason(meter, _use(meter, PLANT | {"low": "100100", "demand": "150"}, []), 30, []) == ""


@pytest.mark.parametrize(
    ("kwh", "days", "rials"),
    [(0, 30, 0), (100, 30, 110_000), (101, 30, 111_300), (50, 15, 55_000), (60, 15, 68_000), (1000, 30, 3_400_000)],
)
def test_tiers_scale_with_days(kwh: float, days: int, rials: float) -> None:
    assert tariff.tiered_rials(kwh, days, RATES.residential_tiers) == pytest.approx(rials)


def test_billing_days_is_at_least_one() -> None:
    assert days_since(SAME_DAY.isoformat(), SAME_DAY) == 1
    assert days_since(SAME_DAY.isoformat(), DAY_30) == 30
