"""What real subscribers type that Kontor used to refuse: each form as a transcript, with the reply it gets."""

from __future__ import annotations

import pytest

from dialogs import Meter, Register


def say(phone, text: str, *expected: str) -> None:
    assert phone.send(text) == list(expected), f"after {text!r}"


def at_date(kit, phone) -> None:
    """Walk a single-rate subscriber to the date question."""
    for text in ("قرائت", kit.SINGLE, kit.NID, "04600"):
        phone.send(text)
    assert phone.step == "date"


def reading_date_of(kit, phone) -> str:
    for text in ("0", "0"):
        phone.send(text)
    phone.send("1")
    [request] = phone.finished()
    return request["reading_date"]


# 1405/09/01 = 2026-11-22, written every way subscribers write it.
SAME_DAY = [
    "1405/09/01",
    "14050901",
    "۱۴۰۵۰۹۰۱",
    "۱۴۰۵ ۰۹ ۰۱",
    "1405،9،1",
    "1405, 9, 1",
    "01/09/1405",
    "1/9/1405",
    "01091405",
    "۱ آذر ۱۴۰۵",
    "1 Azar 1405",
    "1405 azar 1",
    "۱آذر۱۴۰۵",
    "1405/09/01.",
    "تاریخ ۱۴۰۵/۰۹/۰۱",
    "Date: 1405-09-01",
]


@pytest.mark.parametrize("typed", SAME_DAY)
def test_every_form_of_a_date_is_the_same_day(kit, typed):
    phone = kit.Phone()
    at_date(kit, phone)
    say(phone, typed, kit.t("ask_desc"))
    assert reading_date_of(kit, phone) == "2026-11-22"


def test_an_ambiguous_date_is_asked_about_not_guessed(kit):
    # no last reading to rule one out: 04/09/03 reads as 1404/09/03 or as 1403/09/04
    meters = {kit.SINGLE: Meter(kit.SINGLE, "single", (Register("mid", 5, 0, ""),), "", daily_kwh=7)}
    phone = kit.Phone(meters=meters)
    for text in ("READ", kit.SINGLE, kit.NID, "04600"):
        phone.send(text)
    question = kit.t("err_date_ambiguous", "en", first="1404/09/03", second="1403/09/04")
    say(phone, "04/09/03", question + "\n" + kit.t("ask_date", "en"))
    assert phone.step == "date" and "reading_date" not in phone.answers
    say(phone, "14040903", kit.t("ask_desc", "en"))
    assert reading_date_of(kit, phone) == "2025-11-24"


def test_the_last_reading_rules_out_one_reading_of_a_short_date(kit):
    phone = kit.Phone()  # last reading 1405/08/05: 01/09/05 can only be 1405/09/01
    at_date(kit, phone)
    say(phone, "01/09/05", kit.t("ask_desc"))
    assert reading_date_of(kit, phone) == "2026-11-22"


def test_a_month_that_is_no_month_is_a_format_error(kit):
    phone = kit.Phone()
    at_date(kit, phone)
    say(phone, "1 Tuesday 1405", kit.t("err_date_format") + "\n" + kit.t("ask_date"))


@pytest.mark.parametrize(
    "bill, nid",
    [
        ("شناسه قبض: 1234567804121", "کد ملی ۰۰۱۲۳۴۵۶۷۹"),
        ("شناسه قبض ۱۲۳۴۵۶۷۸۰۴۱۲۱.", "کدملی: 0012345679."),
        ("Bill ID: 1234567804121", "National ID 0012345679"),
        ("1234567804121.", "0012345679."),
    ],
)
def test_an_answer_with_its_label_or_a_full_stop(kit, bill, nid):
    phone = kit.Phone()
    phone.send("قرائت")
    say(phone, bill, kit.t("ask_nid"))
    reg = kit.METERS[kit.SINGLE].registers[0]
    say(phone, nid, kit.t("ask_reading", register=kit.CAT.register("mid", "fa"), digits=reg.digits, last=reg.last))
    say(phone, "شمارنده ۰۴۶۰۰.", kit.t("ask_date"))
    assert phone.answers == {"bill_id": kit.SINGLE, "national_id": kit.NID, "readings": {"mid": "04600"}}


def test_a_label_is_not_taken_from_a_description(kit):
    phone = kit.Phone()
    at_date(kit, phone)
    phone.send("0")
    say(phone, "کد ملی پدرم است.", kit.t("ask_receipt"))
    assert phone.answers["description"] == "کد ملی پدرم است."


def test_a_wrong_labelled_answer_is_refused_as_the_bare_one(kit):
    phone = kit.Phone()
    phone.send("قرائت")
    phone.send(kit.SINGLE)
    say(phone, "کد ملی 0012345678", kit.t("err_nid_checksum") + "\n" + kit.t("ask_nid"))
