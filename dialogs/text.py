"""Persian-aware normalisation: what a basic phone sends becomes one canonical form before parsing."""

from __future__ import annotations

import re

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا", "ٱ": "ا"})
_INVISIBLE = re.compile("[\u200b\u200d-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad\u0640]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_SEPARATORS = re.compile("[,\u066c\u060c' _]")
_FILLER = re.compile(r"[\s\-\u200c\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069]+")  # what phones put in IDs


def latin_digits(text: str) -> str:
    """Persian and Arabic-Indic digits as ASCII ones (the only digit map: every parser goes through here)."""
    return text.translate(_DIGITS)


def normalize(text: str) -> str:
    """Latin digits, Persian letters, no invisible marks or control bytes, single spaces."""
    text = _CONTROL.sub(" ", latin_digits(text).translate(_LETTERS))
    text = _INVISIBLE.sub("", text.replace("\u200c", "")).replace("\u066b", ".")
    return _SPACES.sub(" ", text).strip()


def keyword_form(text: str) -> str:
    """The form keywords are compared in: normalised, case-folded, no spaces."""
    return normalize(text).casefold().replace(" ", "")


def compact_number(text: str) -> str:
    """Drop thousands separators and spaces a subscriber may type inside a number."""
    return _SEPARATORS.sub("", normalize(text))


def bare_digits(text: str) -> str:
    """An identifier as typed, without the spaces, hyphens and bidi/zero-width marks phones insert."""
    return _FILLER.sub("", latin_digits(text))


def script_of(text: str) -> str | None:
    """'fa' if the text has Persian/Arabic letters, 'en' if Latin letters, else None."""
    if re.search("[\u0600-\u06ff]", text):
        return "fa"
    if re.search("[A-Za-z]", text):
        return "en"
    return None


def clean_free_text(text: str) -> str:
    """Free text as the subscriber meant it: ZWNJ kept, control bytes and bidi marks gone."""
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text))
    return _SPACES.sub(" ", text).strip()
