"""Whole conversations through the pure dialog: golden transcripts, every wrong answer, keywords, media, expiry."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dialogs
from dialogs import Attachment, BillLookup, ConfirmedRequest, Inbound, Media, StatusLookup
from dialogs.text import normalize

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SCRIPTS = {"latin": str.maketrans("", ""), "persian": PERSIAN, "arabic": ARABIC}

PHOTO = Media("https://media.example/MM1/receipt.jpg", "image/jpeg")
CARD = Media("https://media.example/MM2/card.jpg", "image/jpeg")


# ---------------------------------------------------------------- helpers


def reading_prompt(kit, bill: str, index: int, lang: str = "fa") -> str:
    reg = kit.METERS[bill].in_card_order().registers[index]
    name, digits, last = reg.name, reg.digits, reg.last
    if name == "demand":
        return kit.t("ask_demand", lang, last=last)
    return kit.t("ask_reading", lang, register=kit.CAT.register(name, lang), digits=digits, last=last)


def summary(kit, lang: str, bill: str, nid: str, readings: dict[str, str], date: str) -> str:
    lines = "\n".join(f"{kit.CAT.register(n, lang)} {v}" for n, v in readings.items())
    return kit.t("summary", lang, bill=bill, nid4=nid[-4:], readings=lines, date=date)


def say(phone, text: str, *expected: str, media=()) -> None:
    """Send `text` and require exactly these replies."""
    assert phone.send(text, media) == list(expected), f"after {text!r}"


def walk_to(kit, phone, step: str, bill: str | None = None, lang: str = "fa", reading_index: int = 0) -> None:
    """Drive the phone to the start of `step` with valid Latin answers."""
    bill = bill or kit.SINGLE
    phone.send("READ" if lang == "en" else "قرائت")
    if step == "bill":
        return
    phone.send(bill)
    if step == "nid":
        return
    phone.send(kit.NID)
    for i, reg in enumerate(kit.METERS[bill].in_card_order().registers):
        if step == "reading" and i == reading_index:
            return
        phone.send(str(int(reg.last) + 5).zfill(reg.digits) if reg.name != "demand" else "98.5")
    if step == "date":
        return
    phone.send("1405/09/01")
    if step == "desc":
        return
    phone.send("0")
    if step == "receipt":
        return
    phone.send("12345678")
    assert step == "confirm"


# ---------------------------------------------------------------- golden transcripts


def test_golden_single_rate_persian(kit):
    phone = kit.Phone()
    say(phone, "قرائت", kit.t("ask_bill"))
    assert phone.session.step == "bill" and phone.session.language == "fa"
    say(phone, "۱۲۳۴۵۶۷۸۰۴۱۲۱", kit.t("ask_nid"))
    assert phone.queries == [BillLookup(kit.SINGLE)]
    say(phone, "۰۰۱۲۳۴۵۶۷۹", reading_prompt(kit, kit.SINGLE, 0))
    say(phone, "۰۴۶۰۰", kit.t("ask_date"))
    say(phone, "۱۴۰۵/۰۹/۰۱", kit.t("ask_desc"))
    say(phone, "کنتور در حیاط است", kit.t("ask_receipt"))
    say(phone, "۱۲۳۴۵۶۷۸", summary(kit, "fa", kit.SINGLE, kit.NID, {"mid": "04600"}, "1405/09/01"))
    assert phone.session.step == "confirm"
    say(phone, "۱", kit.t("confirmed"))
    assert phone.session is None
    [request] = phone.finished()
    assert request == {
        "bill_id": kit.SINGLE,
        "national_id": kit.NID,
        "readings": {"mid": "04600"},
        "reading_date": "2026-11-22",
        "description": "کنتور در حیاط است",
        "receipt_reference": "12345678",
        "attachments": [],
        "mobile": phone.sender,
        "dialog_id": "SM0001",
        "language": "fa",
        "registers": ["mid"],
        "confirmed_at": "2026-11-26T10:00:00",
        "wraps": [],
        "channel": "twilio",
    }
    assert ConfirmedRequest.from_json(request) == phone.confirmed()[0]  # the RQ job argument reads back whole


def test_golden_time_of_use_persian_arabic_digits(kit):
    phone = kit.Phone()
    say(phone, "قرائت", kit.t("ask_bill"))
    say(phone, "٢٣٤٥٦٧٨٩٠٤١٢٥", kit.t("ask_nid"))
    say(phone, "١٢٣٤٥٦٧٨٩١", reading_prompt(kit, kit.TOU, 0))
    assert reading_prompt(kit, kit.TOU, 0) == kit.t("ask_reading", register="کم‌باری", digits=6, last="012000")
    say(phone, "٠١٢٥٠٠", reading_prompt(kit, kit.TOU, 1))
    assert reading_prompt(kit, kit.TOU, 1) == kit.t("ask_reading", register="میان‌باری", digits=6, last="023000")
    say(phone, "۰۲۳۹۰۰", reading_prompt(kit, kit.TOU, 2))
    assert reading_prompt(kit, kit.TOU, 2) == kit.t("ask_reading", register="اوج‌بار", digits=6, last="004000")
    say(phone, "٠٠٤٢٠٠", kit.t("ask_date"))
    say(phone, "۰", kit.t("ask_desc"))
    say(phone, "۰", kit.t("ask_receipt"))
    say(
        phone,
        "۰",
        summary(kit, "fa", kit.TOU, kit.NID_2, {"low": "012500", "mid": "023900", "peak": "004200"}, "1405/09/05"),
    )
    say(phone, "١", kit.t("confirmed"))
    [request] = phone.finished()
    assert list(request["readings"]) == kit.CARD_ORDER[kit.TOU]
    assert request["readings"] == {"low": "012500", "mid": "023900", "peak": "004200"}
    assert request["bill_id"] == kit.TOU and request["national_id"] == kit.NID_2
    assert request["reading_date"] == "2026-11-26"
    assert request["description"] == "" and request["receipt_reference"] == ""
    assert request["attachments"] == [] and request["language"] == "fa" and request["dialog_id"] == "SM0001"
    assert request["mobile"] == phone.sender


def test_golden_industrial_persian_with_demand_decimals(kit):
    phone = kit.Phone("+989351112233")
    say(phone, "قرائت", kit.t("ask_bill"))
    say(phone, "۳۴۵۶۷۸۹۰۰۴۱۲۳", kit.t("ask_nid"))
    say(phone, "۴۹۸۷۶۵۴۳۲۶", reading_prompt(kit, kit.INDUSTRIAL, 0))
    typed = ["۱۰۰۵۰۰", "۲۰۰۹۰۰", "۰۵۰۳۰۰", "۰۸۰۴۰۰", "۰۱۰۱۰۰", "۱۲۳٫۴۵"]
    names = kit.CARD_ORDER[kit.INDUSTRIAL]
    for i, text in enumerate(typed):
        expected = reading_prompt(kit, kit.INDUSTRIAL, i + 1) if i + 1 < len(typed) else kit.t("ask_date")
        say(phone, text, expected)
        assert phone.session.answers.readings[names[i]] == normalize(text)
    assert reading_prompt(kit, kit.INDUSTRIAL, 5) == kit.t("ask_demand", last="120")
    say(phone, "۱۴۰۵/۰۸/۰۵", kit.t("err_date_implausible") + "\n" + kit.t("ask_date"))  # 1 day: too much use
    say(phone, "۱۴۰۵/۰۹/۰۱", kit.t("ask_desc"))
    say(phone, "۰", kit.t("ask_receipt"))
    say(
        phone,
        "۹۸۷۶۵۴۳۲۱۰۱۲",
        summary(
            kit,
            "fa",
            kit.INDUSTRIAL,
            "4987654326",
            {
                "low": "100500",
                "mid": "200900",
                "peak": "050300",
                "reactive": "080400",
                "friday": "010100",
                "demand": "123.45",
            },
            "1405/09/01",
        ),
    )
    say(phone, "۱", kit.t("confirmed"))
    [request] = phone.finished()
    assert list(request["readings"]) == ["low", "mid", "peak", "reactive", "friday", "demand"]
    assert request["readings"]["demand"] == "123.45"
    assert request["reading_date"] == "2026-11-22"
    assert request["receipt_reference"] == "987654321012"
    assert request["national_id"] == "4987654326" and request["mobile"] == "+989351112233"
    assert request["registers"] == names


def test_golden_second_single_rate_persian(kit):
    phone = kit.Phone()
    say(phone, "ثبت", kit.t("ask_bill"))
    say(phone, "۴۵۶۷۸۹۰۱۰۴۱۲۰", kit.t("ask_nid"))
    say(phone, "۰۰۱۲۳۴۵۶۷۹", kit.t("ask_reading", register="میان‌باری", digits=5, last="30500"))
    say(phone, "۳۰۹۸۰", kit.t("ask_date"))
    say(phone, "۱۴۰۵/۹/۳", kit.t("ask_desc"))
    say(phone, "لطفا\u200cبررسی شود", kit.t("ask_receipt"))
    say(phone, "۵۵۵۵۴۴۴۴", summary(kit, "fa", kit.SINGLE_2, kit.NID, {"mid": "30980"}, "1405/09/03"))
    say(phone, "۱", kit.t("confirmed"))
    [request] = phone.finished()
    assert request["readings"] == {"mid": "30980"} and request["reading_date"] == "2026-11-24"
    assert request["description"] == "لطفا\u200cبررسی شود"  # ZWNJ kept in free text
    assert request["bill_id"] == kit.SINGLE_2 and request["receipt_reference"] == "55554444"


def test_golden_english(kit):
    phone = kit.Phone()
    say(phone, "READ", kit.t("ask_bill", "en"))
    assert phone.session.language == "en"
    say(phone, "2345678904125", kit.t("ask_nid", "en"))
    say(phone, "0012345679", kit.t("ask_reading", "en", register="low-load", digits=6, last="012000"))
    say(phone, "12,500", kit.t("ask_reading", "en", register="mid-load", digits=6, last="023000"))
    say(phone, "023 900", kit.t("ask_reading", "en", register="peak-load", digits=6, last="004000"))
    say(phone, "4200", kit.t("ask_date", "en"))
    say(phone, "2026-11-20", kit.t("ask_desc", "en"))
    say(phone, "Meter is in the basement", kit.t("ask_receipt", "en"))
    say(
        phone,
        "0",
        summary(kit, "en", kit.TOU, kit.NID, {"low": "12500", "mid": "023900", "peak": "4200"}, "1405/08/29"),
    )
    say(phone, "1", kit.t("confirmed", "en"))
    [request] = phone.finished()
    assert request["language"] == "en" and request["reading_date"] == "2026-11-20"
    assert request["readings"] == {"low": "12500", "mid": "023900", "peak": "4200"}
    assert request["description"] == "Meter is in the basement" and request["receipt_reference"] == ""


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_any_digit_script_gives_the_same_request(kit, script):
    conv = SCRIPTS[script]
    phone = kit.Phone()
    phone.send("قرائت")
    for text in [
        kit.INDUSTRIAL,
        kit.NID,
        "100500",
        "200,900",
        "050300",
        "080400",
        "010100",
        "98.5",
        "1405/09/02",
        "0",
        "12345678",
    ]:
        phone.send(text.translate(conv))
    assert phone.step == "confirm", phone.last_replies
    phone.send("1".translate(conv))
    [request] = phone.finished()
    assert request["readings"] == {
        "low": "100500",
        "mid": "200900",
        "peak": "050300",
        "reactive": "080400",
        "friday": "010100",
        "demand": "98.5",
    }
    assert request["bill_id"] == kit.INDUSTRIAL and request["national_id"] == kit.NID
    assert request["reading_date"] == "2026-11-23" and request["receipt_reference"] == "12345678"


# ---------------------------------------------------------------- keywords


@pytest.mark.parametrize(
    "text, lang",
    [
        ("READ", "en"),
        ("read", "en"),
        ("Read", "en"),
        ("start", "en"),
        ("قرائت", "fa"),
        ("قرایت", "fa"),
        ("ثبت", "fa"),
        ("کارکرد", "fa"),
        ("كاركرد", "fa"),
        ("\u200fقرائت\u200f", "fa"),
        ("  READ  ", "en"),
    ],
)
def test_read_keyword_any_script_and_case(kit, text, lang):
    phone = kit.Phone()
    say(phone, text, kit.t("ask_bill", lang))
    assert phone.session.step == "bill" and phone.session.language == lang and phone.answers == {}


@pytest.mark.parametrize("text", ["HELP", "help", "Help", "راهنما", "کمک", "كمك"])
def test_help_keyword_variants(kit, text):
    phone = kit.Phone()
    walk_to(kit, phone, "nid")
    say(phone, text, kit.t("help_nid"), kit.t("ask_nid"))


@pytest.mark.parametrize("text", ["CANCEL", "cancel", "Cancel", "لغو", "انصراف"])
def test_cancel_keyword_variants(kit, text):
    phone = kit.Phone()
    walk_to(kit, phone, "date")
    say(phone, text, kit.t("cancelled"))
    assert phone.session is None and phone.finished() == []


@pytest.mark.parametrize(
    "text, lang",
    [
        ("INQUIRE", "en"),
        ("inquire", "en"),
        ("Status", "en"),
        ("track", "en"),
        ("پیگیری", "fa"),
        ("پيگيري", "fa"),
        ("وضعیت", "fa"),
        ("وضعيت", "fa"),
    ],
)
def test_inquire_alone_asks_for_the_phones_requests(kit, text, lang):
    phone = kit.Phone(
        statuses={
            "*+989121234567": [
                {"tracking_number": kit.TRACKING, "status": "under_review", "updated_jalali": "1405/09/04"},
                {"tracking_number": kit.TRACKING_2, "status": "bill_issued", "updated_jalali": "1405/09/05"},
            ]
        }
    )
    replies = phone.send(text)
    assert phone.queries == [StatusLookup(phone.sender, None, lang)]
    lines = "\n".join(
        [
            kit.t(
                "status", lang, tracking=kit.TRACKING, status=kit.CAT.status("under_review", lang), date="1405/09/04"
            ),
            kit.t(
                "status", lang, tracking=kit.TRACKING_2, status=kit.CAT.status("bill_issued", lang), date="1405/09/05"
            ),
        ]
    )
    assert replies == [kit.t("status_list", lang, lines=lines)]
    assert phone.session is None


def test_inquire_alone_with_no_requests(kit):
    phone = kit.Phone()
    say(phone, "پیگیری", kit.t("no_requests"))
    assert phone.queries[0].tracking is None


def test_inquire_with_tracking_number(kit):
    phone = kit.Phone(
        statuses={
            kit.TRACKING: [{"tracking_number": kit.TRACKING, "status": "received", "updated_jalali": "1405/09/05"}]
        }
    )
    say(phone, "پیگیری ۱۴۰۵۰۹۰۵۰۰۱۲", kit.t("status", tracking=kit.TRACKING, status="دریافت شد", date="1405/09/05"))
    assert phone.queries == [StatusLookup(phone.sender, kit.TRACKING, "fa")]
    say(phone, "INQUIRE " + kit.TRACKING_2, kit.t("not_found", "en"))


@pytest.mark.parametrize(
    "text, key, lang",
    [
        ("INQUIRE 12345", "err_tracking_format", "en"),
        ("inquire 1405090500123456", "err_tracking_format", "en"),
        ("INQUIRE 140509050013", "err_tracking_checksum", "en"),
        ("پیگیری ۱۴۰۵۰۹۰۵۰۰۱۳", "err_tracking_checksum", "fa"),
        ("پیگیری abc", "err_tracking_format", "fa"),
    ],
)
def test_inquire_with_malformed_tracking_number(kit, text, key, lang):
    phone = kit.Phone()
    say(phone, text, kit.t(key, lang))
    assert phone.queries == []


def test_inquire_mid_dialog_keeps_the_dialog(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "date")
    before = copy.deepcopy(phone.answers)
    say(phone, "پیگیری", kit.t("no_requests"))
    assert phone.step == "date" and phone.answers == before


# ---------------------------------------------------------------- HELP, CANCEL, language at every step

STEPS = [
    ("bill", 0),
    ("nid", 0),
    ("reading", 0),
    ("reading", 5),
    ("date", 0),
    ("desc", 0),
    ("receipt", 0),
    ("confirm", 0),
]


def _expected_help(kit, phone, lang="fa"):
    step = phone.step
    if step == "reading":
        name = phone.session.register.name
        return kit.t("help_reading", lang, register=kit.CAT.register(name, lang))
    return kit.t(f"help_{step}", lang)


@pytest.mark.parametrize("step, index", STEPS)
@pytest.mark.parametrize("lang", ["fa", "en"])
def test_help_at_each_step_repeats_the_prompt(kit, step, index, lang):
    phone = kit.Phone()
    walk_to(kit, phone, step, kit.INDUSTRIAL, lang=lang, reading_index=index)
    assert phone.step == step
    prompt = phone.last_replies[-1]
    before = copy.deepcopy(phone.session)
    replies = phone.send("HELP" if lang == "en" else "راهنما")
    assert replies == [_expected_help(kit, phone, lang), prompt]
    assert dataclasses.replace(phone.session, last_active=before.last_active) == before


@pytest.mark.parametrize("step, index", STEPS)
def test_cancel_at_each_step_ends_the_dialog(kit, step, index):
    phone = kit.Phone()
    walk_to(kit, phone, step, kit.INDUSTRIAL, reading_index=index)
    say(phone, "لغو", kit.t("cancelled"))
    assert phone.session is None
    say(phone, "1", kit.t("menu"))
    assert phone.finished() == []


def test_language_switch_mid_dialog(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "reading", kit.TOU, reading_index=1)
    say(
        phone,
        "EN",
        kit.t("language_set", "en"),
        kit.t("ask_reading", "en", register="mid-load", digits=6, last="023000"),
    )
    assert phone.session.language == "en" and phone.answers["readings"] == {"low": "012005"}
    say(phone, "23900", kit.t("ask_reading", "en", register="peak-load", digits=6, last="004000"))
    say(
        phone,
        "bad",
        kit.t("err_digits", "en") + "\n" + kit.t("ask_reading", "en", register="peak-load", digits=6, last="004000"),
    )
    say(phone, "فارسی", kit.t("language_set", "fa"), kit.t("ask_reading", register="اوج‌بار", digits=6, last="004000"))
    say(phone, "4200", kit.t("ask_date"))
    say(phone, "English", kit.t("language_set", "en"), kit.t("ask_date", "en"))
    for text in ["0", "0", "0"]:
        phone.send(text)
    say(phone, "1", kit.t("confirmed", "en"))
    [request] = phone.finished()
    assert request["language"] == "en"
    assert request["readings"] == {"low": "012005", "mid": "23900", "peak": "4200"}


def test_language_keyword_without_dialog(kit):
    phone = kit.Phone()
    say(phone, "english", kit.t("language_set", "en"), kit.t("menu", "en"))
    assert phone.session is None


# ---------------------------------------------------------------- wrong answers

WRONG = [
    # step, bill, reading index, text, error key, error params
    ("bill", None, 0, "12345", "err_bill_format", {}),
    ("bill", None, 0, "۱۲۳۴۵۶۷۸۹۰۱۲۳۴", "err_bill_format", {}),
    ("bill", None, 0, "قبض من", "err_bill_format", {}),
    ("bill", None, 0, "1234567804122", "err_bill_checksum", {}),
    ("bill", None, 0, "1234567804113", "err_bill_not_electricity", {"service": "آب"}),
    ("bill", None, 0, "9876543204124", "err_bill_unknown", {}),
    ("nid", None, 0, "12345", "err_nid_format", {}),
    ("nid", None, 0, "0012345678", "err_nid_checksum", {}),
    ("nid", None, 0, "۱۱۱۱۱۱۱۱۱۱", "err_nid_same_digits", {}),
    ("reading", "1234567804121", 0, "123456", "err_reading_length", {"digits": "5"}),
    ("reading", "1234567804121", 0, "12a45", "err_digits", {}),
    ("reading", "1234567804121", 0, "صفر", "err_digits", {}),
    ("reading", "1234567804121", 0, "12.5", "err_digits", {}),
    ("reading", "1234567804121", 0, "۱۲٫۵", "err_digits", {}),
    ("reading", "1234567804121", 0, "-12", "err_digits", {}),
    ("reading", "3456789004123", 2, "1234567", "err_reading_length", {"digits": "6"}),
    ("reading", "3456789004123", 5, "1234", "err_demand", {}),
    ("reading", "3456789004123", 5, "12.345", "err_demand", {}),
    ("reading", "3456789004123", 5, "dvazdah", "err_demand", {}),
    ("date", None, 0, "1405/07/31", "err_date_not_exist", {}),
    ("date", None, 0, "1405/13/01", "err_date_not_exist", {}),
    ("date", None, 0, "2026-02-30", "err_date_not_exist", {}),
    ("date", None, 0, "1405/09/06", "err_date_future", {}),
    ("date", None, 0, "1406/01/01", "err_date_future", {}),
    ("date", None, 0, "1405/08/04", "err_date_before_last", {"last": "1405/08/05"}),
    ("date", None, 0, "دیروز", "err_date_format", {}),
    ("desc", None, 0, "x" * 301, "err_desc_long", {"max": "300"}),
    ("receipt", None, 0, "12", "err_receipt", {}),
    ("receipt", None, 0, "رسید دارم", "err_receipt", {}),
    ("receipt", None, 0, "1" * 21, "err_receipt", {}),
    ("confirm", None, 0, "3", "err_confirm", {}),
    ("confirm", None, 0, "بله", "err_confirm", {}),
    ("confirm", None, 0, "11", "err_confirm", {}),
]


@pytest.mark.parametrize(
    "step, bill, index, text, key, params", WRONG, ids=[f"{w[0]}-{w[4]}-{i}" for i, w in enumerate(WRONG)]
)
def test_wrong_answer_gets_error_and_same_question(kit, step, bill, index, text, key, params):
    phone = kit.Phone()
    walk_to(kit, phone, step, bill, reading_index=index)
    prompt = phone.last_replies[-1]
    before = copy.deepcopy(phone.session)
    replies = phone.send(text)
    assert replies == [kit.t(key, **params) + "\n" + prompt]
    after = phone.session
    assert after.step == step and after.register_index == before.register_index
    assert after.answers == before.answers
    assert after.meter == before.meter
    assert phone.finished() == []


def test_wrong_answer_in_english(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "bill", lang="en")
    say(
        phone,
        "1234567804113",
        kit.t("err_bill_not_electricity", "en", service="water") + "\n" + kit.t("ask_bill", "en"),
    )


def test_demand_with_decimals_accepted(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "reading", kit.INDUSTRIAL, reading_index=5)
    say(phone, "98.75", kit.t("ask_date"))
    assert phone.answers["readings"]["demand"] == "98.75"


def test_errors_then_recovery_keeps_earlier_answers(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "reading", kit.TOU, reading_index=2)
    phone.send("abc")
    phone.send("1234567")
    assert phone.answers["readings"] == {"low": "012005", "mid": "023005"}
    say(phone, "004100", kit.t("ask_date"))
    phone.send("1405/02/31")  # month 2 has 31 days: valid, but before the last reading
    assert phone.step == "date"
    for text in ["1405/09/04", "0", "0", "1"]:
        phone.send(text)
    [request] = phone.finished()
    assert request["readings"] == {"low": "012005", "mid": "023005", "peak": "004100"}
    assert request["national_id"] == kit.NID and request["reading_date"] == "2026-11-25"


def test_two_at_confirm_starts_over(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "confirm", kit.TOU)
    say(phone, "۲", kit.t("restart") + " " + kit.t("ask_bill"))
    assert phone.step == "bill" and phone.answers == {} and phone.session.media == []
    assert phone.session.meter is None
    restart_id = f"SM{phone._n:04d}"
    for text in [kit.SINGLE, kit.NID_2, "04700", "0", "0", "0"]:
        phone.send(text)
    assert phone.step == "confirm"
    phone.send("1")
    [request] = phone.finished()
    assert request["bill_id"] == kit.SINGLE and request["readings"] == {"mid": "04700"}
    assert request["national_id"] == kit.NID_2 and request["dialog_id"] == restart_id


def test_unknown_bill_then_known_bill(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "bill")
    phone.send(kit.UNKNOWN_BILL)
    assert phone.step == "bill" and "bill_id" not in phone.answers
    say(phone, kit.SINGLE_2, kit.t("ask_nid"))
    assert phone.answers["bill_id"] == kit.SINGLE_2


# ---------------------------------------------------------------- media


def test_media_at_non_receipt_step_is_kept_and_attached(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "nid")
    say(phone, "", kit.t("media_kept"), kit.t("ask_nid"), media=(CARD,))
    assert phone.step == "nid"
    say(phone, kit.NID, reading_prompt(kit, kit.SINGLE, 0))
    for text in ["04600", "0", "0", "0"]:
        phone.send(text)
    phone.send("1")
    [request] = phone.finished()
    assert request["attachments"] == [{"url": CARD.url, "content_type": "image/jpeg", "step": "nid"}]


def test_media_with_an_answer_is_kept_and_the_answer_used(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "reading")
    say(phone, "04600", kit.t("ask_date"), media=(CARD,))
    assert phone.answers["readings"] == {"mid": "04600"}
    assert phone.session.media == [Attachment(CARD.url, "image/jpeg", "reading")]


def test_mms_photo_without_text_at_receipt_counts_as_receipt(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "receipt")
    replies = phone.send("", (PHOTO,))
    assert phone.step == "confirm"
    assert replies == [summary(kit, "fa", kit.SINGLE, kit.NID, {"mid": "04517"}, "1405/09/01")]
    assert phone.session.answers.receipt_reference == ""
    phone.send("1")
    [request] = phone.finished()
    assert request["attachments"] == [{"url": PHOTO.url, "content_type": "image/jpeg", "step": "receipt"}]
    assert request["receipt_reference"] == ""


def test_both_media_appear_in_finish_request(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "desc")
    phone.send("", (CARD,))
    phone.send("کارت ملی فرستادم")
    phone.send("", (PHOTO,))
    phone.send("1")
    [request] = phone.finished()
    assert [a["url"] for a in request["attachments"]] == [CARD.url, PHOTO.url]
    assert [a["step"] for a in request["attachments"]] == ["desc", "receipt"]
    assert request["description"] == "کارت ملی فرستادم"


# ---------------------------------------------------------------- expiry, no dialog, double confirm


def test_idle_expiry_starts_afresh_and_says_so(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "reading")
    phone.wait(31)
    say(phone, "04600", kit.t("expired"), kit.t("menu"))
    assert phone.session is None


def test_idle_expiry_then_read_starts_new_dialog(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "date", kit.TOU)
    phone.wait(31)
    say(phone, "READ", kit.t("expired"), kit.t("ask_bill", "en"))
    assert phone.step == "bill" and phone.answers == {}


def test_idle_expiry_in_english_dialog(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "nid", lang="en")
    phone.wait(45)
    say(phone, "hello", kit.t("expired", "en"), kit.t("menu", "en"))


def test_thirty_minutes_is_not_yet_expired(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "reading")
    phone.wait(30)
    say(phone, "04600", kit.t("ask_date"))
    phone.wait(29)
    say(phone, "0", kit.t("ask_desc"))  # each message restarts the idle clock
    assert phone.session.last_active == kit.START + timedelta(minutes=59)


@pytest.mark.parametrize(
    "text, lang",
    [
        ("سلام", "fa"),
        ("hello", "en"),
        ("123", "fa"),
        ("", "fa"),
        ("۱", "fa"),
        ("😀", "fa"),
        ("yes", "en"),
    ],
)
def test_any_text_without_dialog_gets_menu(kit, text, lang):
    phone = kit.Phone()
    say(phone, text, kit.t("menu", lang))
    assert phone.session is None and phone.effects == []


def test_second_confirm_yields_no_second_request(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "confirm")
    say(phone, "1", kit.t("confirmed"))
    say(phone, "1", kit.t("menu"))
    say(phone, "۱", kit.t("menu"))
    assert len(phone.finished()) == 1 and phone.session is None


def test_advance_does_not_mutate_the_given_session(kit):
    import dialogs

    phone = kit.Phone()
    walk_to(kit, phone, "reading", kit.TOU)
    frozen = copy.deepcopy(phone.session)
    dialogs.advance(phone.session, dialogs.Inbound(phone.sender, "012345", "SMx"), kit.START, kit.RULES)
    dialogs.advance(phone.session, dialogs.Inbound(phone.sender, "", "SMy", (PHOTO,)), kit.START, kit.RULES)
    assert phone.session == frozen


# ---------------------------------------------------------------- stored values are plain ASCII digits


@pytest.mark.parametrize(
    "step, text",
    [
        ("reading", "０４６００"),  # fullwidth digits
        ("reading", "०४६००"),  # Devanagari digits
        ("receipt", "１２３４５６７８"),
        ("receipt", "¹²³⁴⁵"),  # superscripts pass str.isdigit
    ],
)
def test_foreign_digits_never_stored(kit, step, text):
    phone = kit.Phone()
    walk_to(kit, phone, step)
    phone.send(text)
    assert phone.step == step, f"{text!r} accepted as {phone.answers}"
    assert phone.last_replies[0].startswith(kit.t("err_digits" if step == "reading" else "err_receipt"))


# ---------------------------------------------------------------- property: no input breaks the dialog

ORDER = ["bill", "nid", "reading", "date", "desc", "receipt", "confirm"]
PROPERTY_STEPS = [
    ("bill", None, 0),
    ("nid", None, 0),
    ("reading", "2345678904125", 1),
    ("reading", "3456789004123", 5),
    ("date", None, 0),
    ("desc", None, 0),
    ("receipt", None, 0),
    ("confirm", None, 0),
]


def _position(session) -> tuple[int, int]:
    return ORDER.index(session.step), session.register_index


NASTY = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200),
    st.text(alphabet="0123456789۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩ ,./-٫٬\u200c\u200f\u202b", max_size=20),
    st.text(alphabet="\x00\x01\x07\x1b\x7f\u0085\u2028\t\n\r😀🔥👍🏽\u200d", max_size=30),
    st.text(min_size=1600, max_size=1600),
    st.sampled_from(["", " ", "0", "1", "2", "READ me", "\x00", "😀" * 800, "۱" * 1600]),
)


@pytest.mark.parametrize("step, bill, index", PROPERTY_STEPS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=NASTY, with_media=st.booleans())
def test_any_text_at_any_step_is_safe(kit, step, bill, index, text, with_media):
    phone = kit.Phone()
    walk_to(kit, phone, step, bill, reading_index=index)
    assert phone.step == step
    keyword = kit.CAT.match_keyword(normalize(text))
    assume(keyword is None)
    before = phone.answers
    position = _position(phone.session)
    replies = phone.send(text, (PHOTO,) if with_media else ())
    assert replies and all(isinstance(r, str) and r for r in replies)
    if phone.session is None:
        assert step == "confirm" and normalize(text) == "1"
        assert len(phone.finished()) == 1
        return
    assert phone.finished() == []
    after = phone.answers
    if step == "confirm" and normalize(text) == "2":
        assert phone.step == "bill" and after == {}
        return
    if _position(phone.session) == position:
        assert after == before
    else:
        assert _position(phone.session) > position
        for key, value in before.items():
            if key != "readings":
                assert after[key] == value
        for name, value in before.get("readings", {}).items():
            assert after["readings"][name] == value
    for value in list(after.get("readings", {}).values()) + [after.get("receipt_reference", "")]:
        assert all(c in "0123456789." for c in value), value


def test_mms_photo_with_caption_at_receipt_counts_as_receipt(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "receipt")
    phone.send("رسید پرداخت", (PHOTO,))
    assert phone.step == "confirm" and phone.session.answers.receipt_reference == ""
    assert phone.session.media == [Attachment(PHOTO.url, "image/jpeg", "receipt")]


def test_mms_photo_with_receipt_number_keeps_both(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "receipt")
    phone.send("۸۷۶۵۴۳۲۱", (PHOTO,))
    assert phone.step == "confirm" and phone.answers["receipt_reference"] == "87654321"
    phone.send("1")
    [request] = phone.finished()
    assert request["receipt_reference"] == "87654321" and len(request["attachments"]) == 1


def test_a_description_that_starts_with_a_keyword_is_kept_as_text(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "desc")
    say(phone, "ثبت کنید، کمک لازم نیست", kit.t("ask_receipt"))
    assert phone.answers["description"] == "ثبت کنید، کمک لازم نیست"


def test_the_request_records_the_channel_of_the_confirming_message(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "confirm")
    inbound = Inbound(phone.sender, "1", "kv-9", channel="kavenegar")
    outcome = dialogs.advance(phone.session, inbound, phone.now, phone.rules)
    [effect] = outcome.effects
    assert effect.request.channel == "kavenegar" and effect.request.to_json()["channel"] == "kavenegar"
    assert ConfirmedRequest.from_json({**effect.request.to_json(), "channel": "x"}).channel == "x"
