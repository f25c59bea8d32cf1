"""The message catalogue: both languages complete, and every message short enough for a basic phone's SMS."""

from __future__ import annotations

import dataclasses
import math
import string

import pytest
import yaml

from dialogs.catalogue import LANGUAGES

# GSM 03.38 default alphabet (ESC 0x1B excluded: it only introduces the extension table) and its extension.
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")


def sms_length(text: str) -> tuple[str, int]:
    """('gsm', septets) when every char is GSM-7, else ('ucs2', UTF-16 code units)."""
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        return "gsm", sum(2 if c in GSM_EXTENSION else 1 for c in text)
    return "ucs2", len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    coding, length = sms_length(text)
    single, multi = (160, 153) if coding == "gsm" else (70, 67)
    return 1 if length <= single else math.ceil(length / multi)


# ---------------------------------------------------------------- the counter itself


def test_segment_counter():
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert sms_length("[a]") == ("gsm", 5)  # extension chars cost two septets
    assert segments("{" * 80) == 1 and segments("{" * 81) == 2
    assert sms_length("سلام") == ("ucs2", 4)
    assert segments("س" * 70) == 1 and segments("س" * 71) == 2 and segments("س" * 135) == 3
    assert sms_length("a😀") == ("ucs2", 3)  # astral chars are two UTF-16 units
    assert sms_length("ç")[0] == "ucs2"  # lower-case c-cedilla is not in GSM-7
    assert sms_length("Ç")[0] == "gsm"


# ---------------------------------------------------------------- completeness


def test_every_message_in_both_languages(rules):
    cat = rules.catalogue
    for key, texts in cat.messages.items():
        assert set(texts) == set(LANGUAGES), key
        assert all(isinstance(v, str) and v.strip() for v in texts.values()), key
    for table in (cat.registers, cat.statuses, cat.services):
        for name, texts in table.items():
            assert set(texts) == set(LANGUAGES), name


def test_placeholders_match_between_languages(rules):
    for key, texts in rules.catalogue.messages.items():
        fields = {lang: {f for _, f, _, _ in string.Formatter().parse(v) if f} for lang, v in texts.items()}
        assert fields["fa"] == fields["en"], key


def test_every_error_code_the_code_raises_has_a_message(rules):
    codes = {
        "digits",
        "bill_format",
        "bill_checksum",
        "bill_not_electricity",
        "bill_unknown",
        "nid_format",
        "nid_checksum",
        "nid_same_digits",
        "reading_length",
        "demand",
        "date_format",
        "date_not_exist",
        "date_future",
        "date_before_last",
        "date_ambiguous",
        "receipt",
        "desc_long",
        "confirm",
        "tracking_format",
        "tracking_checksum",
    }
    for code in codes:
        assert f"err_{code}" in rules.catalogue.messages, code
    for step in ("bill", "nid", "date", "desc", "receipt"):
        assert f"ask_{step}" in rules.catalogue.messages and f"help_{step}" in rules.catalogue.messages
    assert "help_reading" in rules.catalogue.messages and "help_confirm" in rules.catalogue.messages


def test_keywords_do_not_collide(rules):
    seen: dict[str, str] = {}
    for name, forms in rules.catalogue.keywords.items():
        for form in forms:
            assert form not in seen, f"{form!r} is both {seen.get(form)} and {name}"
            seen[form] = name
            assert not form.isdigit(), form  # digits are answers (1/2 at confirm, 0 = none)


def test_yaml_has_no_duplicate_keys(kit):
    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
        assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    yaml.load(kit.MESSAGES.read_text(encoding="utf-8"), Loader=Strict)


# ---------------------------------------------------------------- realistic fills and segment counts


def longest(values):
    return max(values, key=lambda v: sms_length(v)[1])


def fill(rules, key: str, lang: str) -> list[str]:
    """The message as it would really be sent, with the longest realistic values (several variants if needed)."""
    cat = rules.catalogue
    reg = longest([cat.register(n, lang) for n in cat.registers])
    params = {
        "register": reg,
        "digits": "6",
        "last": "023000",
        "bill": "3456789004123",
        "nid4": "5679",
        "tracking": "140509050012",
        "service": longest([cat.service(n, lang) for n in cat.services]),
        "max": str(rules.description_max),
        "date": "1405/09/05",
        "status": longest([cat.status(n, lang) for n in cat.statuses]),
        "value": "012345",
        "kwh": "1234560",
        "amount": "123,456,000",
        "payment_id": "1234567890123",
        "first": "1405/09/03",
        "second": "1403/09/05",
        "reason": longest([cat.text(k, lang) for k in cat.messages if k.startswith("reason_")] or [""]),
    }
    if key == "err_date_before_last":
        params["last"] = "1405/08/05"
    if key == "status_list":
        line = cat.text("status", lang, tracking="140509050012", status=params["status"], date="1405/09/05")
        params["lines"] = "\n".join([line] * 3)
    if key == "ask_demand":
        params["last"] = "120.50"
    if key == "summary":
        return [summary_for(rules, lang, meter) for meter in DEMO_READINGS]
    return [cat.text(key, lang, **params)]


DEMO_READINGS = {
    "single": ["mid"],
    "tou": ["low", "mid", "peak"],
    "tou_friday": ["low", "mid", "peak", "friday"],
    "industrial": ["low", "mid", "peak", "reactive", "friday", "demand"],
}


def summary_for(rules, lang: str, meter: str) -> str:
    cat = rules.catalogue
    readings = "\n".join(
        f"{cat.register(n, lang)} {'999.99' if n == 'demand' else '999999'}" for n in DEMO_READINGS[meter]
    )
    return cat.text("summary", lang, bill="3456789004123", nid4="5679", readings=readings, date="1405/09/05")


PROMPT_PREFIXES = ("ask_", "help_", "err_", "menu")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_prompt_fits_one_segment(rules, lang):
    too_long = {}
    for key in rules.catalogue.messages:
        if key.startswith(PROMPT_PREFIXES):
            for text in fill(rules, key, lang):
                if segments(text) > 1:
                    too_long[key] = (sms_length(text), text)
    assert not too_long, too_long


# Which question follows each error in the same reply (steps.answer: error + "\n" + prompt).
ERROR_PROMPTS = {
    "err_digits": ["ask_reading"],
    "err_bill_format": ["ask_bill"],
    "err_bill_checksum": ["ask_bill"],
    "err_bill_not_electricity": ["ask_bill"],
    "err_bill_unknown": ["ask_bill"],
    "err_nid_format": ["ask_nid"],
    "err_nid_checksum": ["ask_nid"],
    "err_nid_same_digits": ["ask_nid"],
    "err_reading_length": ["ask_reading"],
    "err_demand": ["ask_demand"],
    "err_date_format": ["ask_date"],
    "err_date_not_exist": ["ask_date"],
    "err_date_future": ["ask_date"],
    "err_date_before_last": ["ask_date"],
    "err_date_ambiguous": ["ask_date"],
    "err_receipt": ["ask_receipt"],
    "err_desc_long": ["ask_desc"],
    "err_confirm": ["summary"],
    "err_too_high": ["ask_reading"],
    "err_demand_high": ["ask_demand"],
    "err_date_implausible": ["ask_date"],
    "err_receipt_required": ["ask_receipt"],
    "err_card_required": ["ask_card"],
    "err_tracking_format": [],
    "err_tracking_checksum": [],  # sent alone
}


def test_error_prompt_table_covers_every_error(rules):
    assert set(ERROR_PROMPTS) == {k for k in rules.catalogue.messages if k.startswith("err_")}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_error_with_its_question_fits_two_segments(rules, lang):
    too_long = {}
    for err, prompts in ERROR_PROMPTS.items():
        [error] = fill(rules, err, lang)
        for prompt_key in prompts:
            for prompt in fill(rules, prompt_key, lang):
                allowed = 2
                if prompt_key == "summary" and prompt.count("\n") - 2 > 3:  # the summary of a >3-register meter
                    allowed = 3
                joined = error + "\n" + prompt
                if segments(joined) > allowed:
                    too_long[(err, prompt_key)] = (sms_length(joined), joined)
    assert not too_long, too_long


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_message_over_two_segments(rules, lang):
    cat = rules.catalogue
    too_long = {}
    for key in cat.messages:
        if key == "summary":
            continue  # test_summary_segments: may need 3 for a meter with more than three registers
        for text in fill(rules, key, lang):
            if segments(text) > 2:
                too_long[key] = (sms_length(text), text)
    restart = cat.text("restart", lang) + " " + cat.text("ask_bill", lang)  # sent as one reply
    if segments(restart) > 1:
        too_long["restart+ask_bill"] = restart
    assert not too_long, too_long


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("meter, limit", [("single", 2), ("tou", 2), ("tou_friday", 3), ("industrial", 3)])
def test_summary_segments(rules, lang, meter, limit):
    text = summary_for(rules, lang, meter)
    assert segments(text) <= limit, (sms_length(text), text)


def test_english_messages_are_gsm7(rules):
    cat = rules.catalogue
    for key in cat.messages:
        for text in fill(rules, key, "en"):
            assert sms_length(text)[0] == "gsm", (key, [c for c in text if c not in GSM_BASIC | GSM_EXTENSION])


# ---------------------------------------------------------------- USSD: every screen at most 182 characters

USSD_SCREEN = 182
USSD_ONLY = {"sorry"}  # the channel's own apology for a malformed callback


def ussd_screens(rules, lang: str) -> dict[str, str]:
    """Every screen USSD can show, as the channel joins a reply's messages (one screen, lines)."""
    cat = rules.catalogue.on("ussd")
    ussd_rules = dataclasses.replace(rules, catalogue=cat)
    screens: dict[str, str] = {}
    for key in cat.messages:
        for i, text in enumerate(fill(ussd_rules, key, lang)):
            screens[f"{key}#{i}"] = text
    for err, prompts in ERROR_PROMPTS.items():
        [error] = fill(ussd_rules, err, lang)
        for prompt_key in prompts:
            for i, prompt in enumerate(fill(ussd_rules, prompt_key, lang)):
                screens[f"{err}+{prompt_key}#{i}"] = error + "\n" + prompt
    # HELP and the language keywords need letters: a keypad cannot send them, so they never join a USSD screen.
    screens["expired+menu"] = cat.text("expired", lang) + "\n" + cat.text("menu", lang)
    return screens


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_ussd_screen_fits_182_characters(rules, lang):
    too_long = {k: (len(v), v) for k, v in ussd_screens(rules, lang).items() if len(v) > USSD_SCREEN}
    assert not too_long, too_long


def test_ussd_wordings_complete_and_keypad_only(rules):
    own = rules.catalogue.channels["ussd"]
    for key, texts in own.items():
        assert set(texts) == set(LANGUAGES), key
        assert key in rules.catalogue.messages or key in USSD_ONLY, key
    cat = rules.catalogue.on("ussd")
    for lang in LANGUAGES:
        assert "/" not in cat.text("ask_date", lang) and "MMS" not in cat.text("ask_receipt", lang)
        assert [line[0] for line in cat.text("menu", lang).translate(str.maketrans("۱۲۳", "123")).splitlines()[1:]] == [
            "1",
            "2",
            "3",
        ]
