"""Meter rules: consumption, wraps past 10^digits, the physical bound and the usual use, in both directions."""

from __future__ import annotations

import dataclasses

import pytest

from dialogs.meters import consumption, demand_too_high, judge
from dialogs.model import Meter, Register, Rules
from tests.unit.conftest import RULES

SINGLE = Meter("x", "single", (), multiplier=1, contract_kw=0, daily_kwh=7)  # 25 kW connection: 600 kWh a day
INDUSTRIAL = Meter("y", "industrial", (), multiplier=40, contract_kw=150, daily_kwh=1300)  # 3,600 kWh a day


def reg(name: str, digits: int, decimals: int, last: str) -> Register:
    return Register(name, digits, decimals, last)


@pytest.mark.parametrize(
    "value, last, digits, mult, wrapped, expected",
    [
        ("04620", "04512", 5, 1, False, 108),
        ("00020", "99990", 5, 1, True, 30),  # rolled over: 99990 → 100000 → 100020
        ("000005", "999999", 6, 1, True, 6),
        ("100400", "100000", 6, 40, False, 16000),
        ("000100", "999900", 6, 40, True, 8000),
        ("04512", "04512", 5, 1, False, 0),
        ("123.5", "120", 3, 1, False, 3.5),
    ],
)
def test_consumption(value, last, digits, mult, wrapped, expected):
    assert consumption(value, last, digits, mult, wrapped) == pytest.approx(expected)


@pytest.mark.parametrize(
    "meter, register, value, wrapped, days, kind",
    [
        (SINGLE, reg("mid", 5, 0, "04512"), "04620", False, 30, "ok"),  # 108 kWh in a month
        (SINGLE, reg("mid", 5, 0, "04512"), "04400", False, 30, "wrap"),  # lower: ask
        (SINGLE, reg("mid", 5, 0, "04512"), "04400", True, 30, "impossible"),  # 99,888 kWh in a month
        (SINGLE, reg("mid", 5, 0, "99990"), "00020", True, 30, "ok"),  # a real wrap: 30 kWh
        (SINGLE, reg("mid", 5, 0, "04512"), "05200", False, 30, "unusual"),  # 688 > 7 × 30 × 3
        (SINGLE, reg("mid", 5, 0, "04512"), "05100", False, 30, "ok"),  # 588 ≤ 630
        (SINGLE, reg("mid", 5, 0, "04512"), "30000", False, 30, "impossible"),  # 25,488 > 25 kW × 24 h × 30
        (SINGLE, reg("mid", 5, 0, "04512"), "05100", False, 1, "unusual"),  # 588 in one day: above 21 but ≤ 600
        (SINGLE, reg("mid", 5, 0, "04512"), "05200", False, 1, "impossible"),  # 688 > 600 in one day
        (INDUSTRIAL, reg("mid", 6, 0, "200000"), "200900", False, 30, "ok"),  # 36,000 kWh
        (
            dataclasses.replace(INDUSTRIAL, daily_kwh=300),
            reg("mid", 6, 0, "200000"),
            "200900",
            False,
            30,
            "unusual",
        ),  # 36,000 > 27,000
        (INDUSTRIAL, reg("mid", 6, 0, "200000"), "205000", False, 30, "impossible"),  # 200,000 > 108,000
        (INDUSTRIAL, reg("reactive", 6, 0, "080000"), "085000", False, 30, "ok"),  # kvarh: no energy bound
        (INDUSTRIAL, reg("reactive", 6, 0, "080000"), "070000", False, 30, "wrap"),
    ],
)
def test_judge(meter, register, value, wrapped, days, kind):
    assert judge(meter, register, value, wrapped, days, RULES).kind == kind


def test_every_bound_comes_from_the_rules():
    strict = Rules(RULES.catalogue, usual_factor=1.0, connection_kw=1.0)
    assert judge(SINGLE, reg("mid", 5, 0, "04512"), "04620", False, 30, RULES).kind == "ok"
    assert judge(SINGLE, reg("mid", 5, 0, "04512"), "04800", False, 30, strict).kind == "unusual"  # 288 > 7 × 30
    assert judge(SINGLE, reg("mid", 5, 0, "04512"), "05300", False, 30, strict).kind == "impossible"  # > 720


@pytest.mark.parametrize("value, limit", [("120", None), ("180", None), ("180.01", 180.0), ("999", 180.0)])
def test_demand_above_contract_times_factor(value, limit):
    assert demand_too_high(INDUSTRIAL, value, RULES) == limit


def test_no_contract_no_demand_bound():
    assert demand_too_high(SINGLE, "999", RULES) is None


# ---------------------------------------------------------------- as conversations


def test_a_wrapped_meter_is_accepted_only_when_confirmed(kit, phone):
    kit_single = kit.Phone()
    from tests.unit.test_conversations import say, walk_to

    walk_to(kit, kit_single, "reading")
    say(kit_single, "04400", kit.t("ask_wrap", value="04400", last="04512"))
    say(
        kit_single,
        "HELP",
        kit.t("help_reading", register=kit.CAT.register("mid", "fa")),
        kit.t("ask_wrap", value="04400", last="04512"),
    )
    say(
        kit_single,
        "1",
        kit.t("err_too_high")
        + "\n"
        + kit.t("ask_reading", register=kit.CAT.register("mid", "fa"), digits=5, last="04512"),
    )
    say(kit_single, "04600", kit.t("ask_date"))
    assert kit_single.answers["readings"] == {"mid": "04600"} and "wraps" not in kit_single.answers


def test_a_real_wrap_confirmed_is_kept_with_its_flag(kit):
    from dialogs import Meter, Register
    from tests.unit.test_conversations import say, walk_to

    phone = kit.Phone()
    phone.meters = {
        **kit.METERS,
        kit.SINGLE: Meter(kit.SINGLE, "single", (Register("mid", 5, 0, "99950"),), kit.LAST_DATE, daily_kwh=7),
    }
    walk_to(kit, phone, "reading")
    say(phone, "00040", kit.t("ask_wrap", value="00040", last="99950"))
    say(phone, "1", kit.t("ask_date"))
    assert phone.answers["readings"] == {"mid": "00040"} and phone.answers["wraps"] == ["mid"]


def test_a_declined_wrap_takes_the_new_number(kit):
    from tests.unit.test_conversations import say, walk_to

    phone = kit.Phone()
    walk_to(kit, phone, "reading")
    say(phone, "04400", kit.t("ask_wrap", value="04400", last="04512"))
    say(phone, "04540", kit.t("ask_date"))
    assert phone.answers["readings"] == {"mid": "04540"}


def test_an_implausible_reading_confirmed_and_one_corrected(kit):
    from tests.unit.test_conversations import say, walk_to

    phone = kit.Phone()
    walk_to(kit, phone, "reading")
    say(phone, "05200", kit.t("ask_unusual", kwh=688))
    say(phone, "1", kit.t("ask_date"))
    assert phone.answers["readings"] == {"mid": "05200"}
    other = kit.Phone("+989121111111")
    walk_to(kit, other, "reading")
    say(other, "05200", kit.t("ask_unusual", kwh=688))
    say(other, "04700", kit.t("ask_date"))
    assert other.answers["readings"] == {"mid": "04700"}


def test_a_demand_above_the_contract_is_asked_again(kit):
    from tests.unit.test_conversations import say, walk_to

    phone = kit.Phone()
    walk_to(kit, phone, "reading", kit.INDUSTRIAL, reading_index=5)
    say(phone, "250", kit.t("err_demand_high", max="180") + "\n" + kit.t("ask_demand", last="120"))
    say(phone, "140.5", kit.t("ask_date"))
