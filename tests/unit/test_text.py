"""dialogs.text: what a basic phone sends becomes one canonical form before parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.text import bare_digits, clean_free_text, compact_number, keyword_form, normalize, script_of

ZWNJ, RLM, RLE, PDF, LRM, ZWJ, BOM = "\u200c", "\u200f", "\u202b", "\u202c", "\u200e", "\u200d", "\ufeff"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
        ("۱۲3٤", "1234"),  # mixed scripts in one number
        ("علي", "علی"),
        ("كد ملي", "کد ملی"),
        ("ى", "ی"),  # Arabic yeh/kaf/alef maksura
        ("ة", "ه"),
        ("ۀ", "ه"),
        ("أ", "ا"),
        ("إ", "ا"),
        (f"می{ZWNJ}خواهم", "میخواهم"),  # ZWNJ dropped in parsed (not free) text
        (f"{RLM}۱۲۳{RLM}", "123"),
        (f"{RLE}قرائت{PDF}", "قرائت"),
        (f"{LRM}12{ZWJ}3{BOM}", "123"),
        ("ـقرائـــت", "قرائت"),  # kashida (tatweel)
        ("12\x0034\x07", "12 34"),
        ("a\tb\r\nc", "a b c"),
        ("  \u00a0x  y\u2028 ", "x y"),
        ("12٫5", "12.5"),  # Arabic decimal separator
        ("😀 سلام 👍🏽", "😀 سلام 👍🏽"),  # emoji pass through
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("۱۲٬۳۴۵", "12345"),
        ("12,345", "12345"),
        ("١٢٬٣٤٥", "12345"),
        ("12 345", "12345"),
        ("12'345", "12345"),
        ("12_345", "12345"),
        ("۱۲،۳۴۵", "12345"),
        (f"{RLM}۱۲۳۴۵{RLM}", "12345"),
        ("۹۸٫۵", "98.5"),
        ("98.5", "98.5"),
        ("0", "0"),
        ("abc", "abc"),
        ("", ""),
    ],
)
def test_compact_number(raw, expected):
    assert compact_number(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("READ", "read"),
        ("Read", "read"),
        ("rEaD", "read"),
        (" HELP ", "help"),
        ("İnquire", "i̇nquire"),
        ("پيگيري", "پیگیری"),
        ("كمك", "کمک"),
        (f"{RLM}لغو", "لغو"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("e n", "en"),
    ],
)
def test_keyword_form(raw, expected):
    assert keyword_form(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        (f"می{ZWNJ}خواهم", f"می{ZWNJ}خواهم"),  # ZWNJ kept: it is part of Persian spelling
        (f"{RLM}کنتور{RLM} خراب", "کنتور خراب"),
        (f"{RLE}text{PDF}", "text"),
        ("line1\nline2\t\x00end", "line1 line2 end"),
        ("۱۲۳ كيلو", "۱۲۳ كيلو"),  # free text keeps the subscriber's digits and letters
        ("😀🔥", "😀🔥"),
        ("  x  ", "x"),
        ("", ""),
    ],
)
def test_clean_free_text(raw, expected):
    assert clean_free_text(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("سلام", "fa"),
        ("قرائت 123", "fa"),
        ("READ", "en"),
        ("hello سلام", "fa"),
        ("۱۲۳", "fa"),
        ("123", None),
        ("", None),
        ("😀", None),
        ("١٢٣", "fa"),
        ("Ünïcode", "en"),
        ("Привет", None),
    ],
)
def test_script_of(raw, expected):
    assert script_of(raw) == expected


@given(st.text())
def test_normalize_is_idempotent_and_total(text):
    once = normalize(text)
    assert normalize(once) == once
    assert compact_number(compact_number(text)) == compact_number(text)
    assert keyword_form(keyword_form(text)) == keyword_form(text)
    assert clean_free_text(clean_free_text(text)) == clean_free_text(text)
    assert script_of(text) in (None, "fa", "en")
    assert not any(c in once for c in "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩\x00\u200c\u200f\u202b")
    assert once == once.strip() and "  " not in once


@pytest.mark.parametrize(
    "typed, bare",
    [
        ("۰۰۱۲-۳۴۵ ۶۷۹", "0012345679"),
        ("\u200f١٢٣\u200c٤", "1234"),
        ("12\u202b34\u202c", "1234"),
        ("12,34", "12,34"),
    ],
)
def test_bare_digits_drops_what_phones_insert_into_ids(typed, bare):
    assert bare_digits(typed) == bare
