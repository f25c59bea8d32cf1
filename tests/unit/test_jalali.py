"""Unit tests for dialogs.jalali: reading-date parsing and Jalali rendering."""

from __future__ import annotations

import datetime

import pytest

from dialogs.errors import Refused
from dialogs.jalali import parse_reading_date, to_jalali_str

TODAY = datetime.date(2026, 11, 26)  # 1405/09/05
EXPECTED = datetime.date(2026, 11, 26)


def error(text: str, today: datetime.date = TODAY, not_before: datetime.date | None = None) -> Refused:
    """Parse expecting a Refused and hand it back for inspection."""
    with pytest.raises(Refused) as info:
        parse_reading_date(text, today, not_before)
    return info.value


def test_today_fixture_is_1405_09_05() -> None:
    assert to_jalali_str(TODAY) == "1405/09/05"


def test_zero_means_today() -> None:
    assert parse_reading_date("0", TODAY) == TODAY
    assert parse_reading_date("۰", TODAY) == TODAY


@pytest.mark.parametrize(
    "text",
    ["1405/9/5", "1405/09/05", "1405-09-05", "1405.09.05", "05/09/05", "5/9/5", "2026-11-26", " 1405 / 9 / 5 "],
)
def test_accepted_formats(text: str) -> None:
    assert parse_reading_date(text, TODAY) == EXPECTED


def test_persian_and_arabic_digits() -> None:
    assert parse_reading_date("۱۴۰۵/۹/۵", TODAY) == EXPECTED
    assert parse_reading_date("١٤٠٥/٠٩/٠٥", TODAY) == EXPECTED


def test_leap_year_1403_has_esfand_30() -> None:
    assert parse_reading_date("1403/12/30", TODAY) == datetime.date(2025, 3, 20)
    assert to_jalali_str(datetime.date(2025, 3, 20)) == "1403/12/30"


def test_non_leap_1404_has_no_esfand_30() -> None:
    assert error("1404/12/30").code == "date_not_exist"


@pytest.mark.parametrize("text", ["1405/07/31", "1405/13/01", "1405/00/10", "1405/01/00", "1404/12/31", "2026-02-29"])
def test_nonexistent_dates(text: str) -> None:
    assert error(text).code == "date_not_exist"


@pytest.mark.parametrize("text", ["", "abc", "1405/09", "1405/09/05/01", "140/09/05", "1405//05", "14050905x"])
def test_unparseable(text: str) -> None:
    assert error(text).code == "date_format"


def test_future_date_rejected() -> None:
    assert error("1405/09/06").code == "date_future"
    assert error("2026-11-27").code == "date_future"


def test_before_last_reading_rejected_with_last_param() -> None:
    last = datetime.date(2026, 10, 1)
    err = error("1405/07/01", not_before=last)
    assert err.code == "date_before_last"
    assert err.params == {"last": "1405/07/09"}


def test_on_last_reading_day_is_allowed() -> None:
    last = datetime.date(2026, 10, 1)
    assert parse_reading_date("1405/07/09", TODAY, not_before=last) == last


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (datetime.date(2026, 3, 21), "1405/01/01"),
        (datetime.date(2026, 11, 26), "1405/09/05"),
        (datetime.date(2021, 3, 21), "1400/01/01"),
    ],
)
def test_to_jalali_str_zero_padded(d: datetime.date, expected: str) -> None:
    assert to_jalali_str(d) == expected


@pytest.mark.parametrize(
    "text",
    [
        "14050905",
        "۱۴۰۵۰۹۰۵",
        "05091405",
        "۱۴۰۵ ۰۹ ۰۵",
        "1405،9،5",
        "1405,09,05",
        "05/09/1405",
        "5-9-1405",
        "۵ آذر ۱۴۰۵",
        "5 Azar 1405",
        "1405 آذر 5",
        "5 azar 05",
        "1405/09/05.",
        "26/11/2026",
    ],
)
def test_the_forms_subscribers_type_are_the_same_day(text: str) -> None:
    assert parse_reading_date(text, TODAY) == EXPECTED


def test_two_possible_days_are_asked_about() -> None:
    err = error("04/09/03")
    assert err.code == "date_ambiguous" and err.params == {"first": "1404/09/03", "second": "1403/09/04"}


def test_the_last_reading_decides_between_two_readings() -> None:
    assert parse_reading_date("04/09/03", TODAY, not_before=datetime.date(2025, 1, 1)) == datetime.date(2025, 11, 24)


@pytest.mark.parametrize(
    "text", ["1405 Tuesday 5", "5 آذر", "05/09/1405/1", "1405 09 05 1405", "09051405x", "12345678"]
)
def test_not_a_date(text: str) -> None:
    assert error(text).code in ("date_format", "date_not_exist")


@pytest.mark.parametrize("text", ["0" * 400 + "!", "1 " * 800 + "x", "1405/" * 300])
def test_a_long_or_hostile_answer_is_refused_at_once(text: str) -> None:
    assert error(text).code == "date_format"  # no regex backtracking: the fuzz test's 1,600 characters included


@pytest.mark.parametrize("text", ["8 آذر ²", "1405/09/1৫", "۱۴۰۵/۰۹/①", "²³/09/1405"])
def test_digits_of_other_scripts_are_refused_with_a_reason_not_a_crash(text: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_reading_date(text, TODAY)
    assert refused.value.code == "date_format"
