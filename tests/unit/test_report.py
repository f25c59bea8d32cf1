"""The one-SMS report: keyword, bill ID, national ID, readings in card order; the dialog asks only what is missing."""

from __future__ import annotations

import dataclasses

import pytest

from dialogs import BillLookup

READINGS = {"low": "012150", "mid": "023200", "peak": "004060"}
TODAY = "1405/09/05"


def say(phone, text: str, *expected: str) -> None:
    assert phone.send(text) == list(expected), f"after {text!r}"


def summary(kit, lang: str = "fa", nid: str | None = None, readings: dict[str, str] = READINGS) -> str:
    lines = "\n".join(f"{kit.CAT.register(n, lang)} {v}" for n, v in readings.items())
    return kit.t("summary", lang, bill=kit.TOU, nid4=(nid or kit.NID)[-4:], readings=lines, date=TODAY)


def register_prompt(kit, index: int, lang: str = "fa") -> str:
    reg = kit.METERS[kit.TOU].in_card_order().registers[index]
    return kit.t("ask_reading", lang, register=kit.CAT.register(reg.name, lang), digits=reg.digits, last=reg.last)


def confirm(kit, phone, lang: str = "fa") -> dict:
    say(phone, "1" if lang == "en" else "۱", kit.t("confirmed", lang))
    [request] = phone.finished()
    return request


@pytest.mark.parametrize(
    "text, lang",
    [
        ("قرائت 2345678904125 0012345679 012150 023200 004060", "fa"),
        ("قرائت ۲۳۴۵۶۷۸۹۰۴۱۲۵ ۰۰۱۲۳۴۵۶۷۹ ۰۱۲۱۵۰ ۰۲۳۲۰۰ ۰۰۴۰۶۰", "fa"),
        ("READ 2345678904125 0012345679 012150 023200 004060", "en"),
        ("read*2345678904125*0012345679*012150*023200*004060#", "en"),
        ("READ,2345678904125,0012345679,012150,023200,004060", "en"),
        ("قرائت#2345678904125#0012345679، 012150، 023200، 004060", "fa"),
    ],
)
def test_one_sms_goes_straight_to_the_summary(kit, text, lang):
    phone = kit.Phone()
    say(phone, text, summary(kit, lang))
    assert phone.step == "confirm" and phone.queries == [BillLookup(kit.TOU)]
    request = confirm(kit, phone, lang)
    assert request["readings"] == READINGS and request["national_id"] == kit.NID and request["bill_id"] == kit.TOU
    assert request["reading_date"] == "2026-11-26" and request["description"] == ""
    assert request["receipt_reference"] == "" and request["language"] == lang


def test_a_wrong_national_id_is_asked_again_and_the_readings_wait(kit):
    phone = kit.Phone()
    say(
        phone,
        "قرائت 2345678904125 0012345678 012150 023200 004060",
        kit.t("err_nid_checksum") + "\n" + kit.t("ask_nid"),
    )
    say(phone, kit.NID, summary(kit))
    assert confirm(kit, phone)["readings"] == READINGS


def test_a_missing_national_id_is_asked_without_an_error(kit):
    phone = kit.Phone()
    say(phone, "قرائت 2345678904125 012150 023200 004060", kit.t("ask_nid"))
    say(phone, "کد ملی " + kit.NID, summary(kit))


def test_a_wrong_bill_is_asked_again_then_the_rest_applies(kit):
    phone = kit.Phone()
    say(
        phone,
        "قرائت 2345678904124 0012345679 012150 023200 004060",
        kit.t("err_bill_checksum") + "\n" + kit.t("ask_bill"),
    )
    say(phone, kit.TOU, summary(kit))


def test_an_unknown_bill_is_asked_again(kit):
    phone = kit.Phone()
    text = f"قرائت {kit.UNKNOWN_BILL} 0012345679 012150 023200 004060"
    say(phone, text, kit.t("err_bill_unknown") + "\n" + kit.t("ask_bill"))
    say(phone, kit.TOU, summary(kit))


def test_a_missing_reading_is_asked_for(kit):
    phone = kit.Phone()
    say(phone, "قرائت 2345678904125 0012345679 012150 023200", register_prompt(kit, 2))
    say(phone, "004060", summary(kit))


def test_a_wrong_reading_is_asked_again_and_the_next_waits(kit):
    phone = kit.Phone()
    error = kit.t("err_reading_length", digits="6")
    say(phone, "قرائت 2345678904125 0012345679 0121500 023200 004060", error + "\n" + register_prompt(kit, 0))
    say(phone, "012150", summary(kit))


def test_an_unusual_reading_asks_for_its_1_then_the_report_goes_on(kit):
    phone = kit.Phone()
    unusual = kit.t("ask_unusual", kwh=1500)
    say(phone, "قرائت 2345678904125 0012345679 013500 023200 004060", unusual)
    say(phone, "1", summary(kit, readings={"low": "013500", "mid": "023200", "peak": "004060"}))


def test_a_refused_answer_mid_report_keeps_the_parts_waiting(kit):
    phone = kit.Phone()
    phone.send("قرائت 2345678904125 0012345679 013500 023200 004060")
    error = kit.t("err_reading_length", digits="6")
    say(phone, "1234567", error + "\n" + register_prompt(kit, 0))  # neither 1 nor a reading: asked again
    assert phone.session.queued == ["023200", "004060"] and phone.session.register_index == 0
    say(phone, "012150", summary(kit))


def test_more_numbers_than_registers_are_left_out_of_the_summary(kit):
    phone = kit.Phone()
    say(phone, "قرائت 2345678904125 0012345679 012150 023200 004060 999999", summary(kit))


def test_start_over_from_a_report_is_a_plain_dialog(kit):
    phone = kit.Phone()
    phone.send("قرائت 2345678904125 0012345679 012150 023200 004060")
    say(phone, "2", kit.t("restart") + " " + kit.t("ask_bill"))
    assert not phone.session.quick and phone.session.queued == []


def test_help_tells_of_the_one_sms_report(kit):
    phone = kit.Phone()
    say(phone, "راهنما", kit.t("menu"), kit.t("help_report"))
    say(phone, "HELP", kit.t("menu", "en"), kit.t("help_report", "en"))


def test_a_keyword_before_a_reading_mid_dialog_is_not_a_new_report(kit):
    phone = kit.Phone()
    for text in ("قرائت", kit.SINGLE, kit.NID):
        phone.send(text)
    before = phone.answers
    phone.send("قرائت 04620")
    assert phone.step == "reading" and phone.answers == before


def test_a_required_receipt_is_asked_for(kit):
    phone = kit.Phone(rules=dataclasses.replace(kit.RULES, require_receipt=True))
    reply = kit.t("err_receipt_required") + "\n" + kit.t("ask_receipt")
    say(phone, "قرائت 2345678904125 0012345679 012150 023200 004060", reply)
    say(phone, "12345678", summary(kit))
    assert confirm(kit, phone)["receipt_reference"] == "12345678"
