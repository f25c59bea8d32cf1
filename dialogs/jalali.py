"""Reading-date parsing: subscribers type Jalali dates, the back end stores Gregorian ones."""

from __future__ import annotations

import datetime
import re

import jdatetime

from dialogs.errors import Refused
from dialogs.text import latin_digits, normalize

__all__ = ["parse_reading_date", "to_jalali_str"]

_SEPARATOR = "/\\-.\u066b,\u060c\u066c\\s"  # slash, hyphen, dot, Arabic decimal, comma, Persian comma, space
_SHAPE = re.compile(f"[\\w{_SEPARATOR}]+")  # one class, no nested repeat: linear on any input
_LONGEST = 40  # `۱۴ اردیبهشت ۱۴۰۵` and the like; anything longer is not a date
_TOKEN = re.compile(r"[0-9]+|[^\W\d_]+|\d+")  # other scripts' digits (², ৫): a token of their own, refused
_FIRST_GREGORIAN_YEAR = 1900
_CENTURY = 1400
_JALALI_YEARS = range(1300, 1500)
_GREGORIAN_YEARS = range(_FIRST_GREGORIAN_YEAR, 2200)
# Month names as subscribers write them (Persian after dialogs.text.normalize, and common Latin spellings).
_MONTH_NAMES = (
    ("فروردین", "farvardin"),
    ("اردیبهشت", "ordibehesht"),
    ("خرداد", "khordad"),
    ("تیر", "tir"),
    ("مرداد", "امرداد", "mordad", "amordad"),
    ("شهریور", "shahrivar", "shahriver"),
    ("مهر", "mehr"),
    ("آبان", "ابان", "aban"),
    ("آذر", "اذر", "azar"),
    ("دی", "dey", "dei"),
    ("بهمن", "bahman"),
    ("اسفند", "esfand"),
)
_MONTHS = {name: month for month, names in enumerate(_MONTH_NAMES, start=1) for name in names}
Candidate = tuple[str, int, int]  # (year as typed, month, day)


def to_jalali_str(d: datetime.date) -> str:
    """Render a date the way Iranian subscribers read it, e.g. 1405/09/05."""
    j = jdatetime.date.fromgregorian(date=d)
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"


def _to_date(year: int, month: int, day: int) -> datetime.date:
    """Map the typed numbers onto a calendar: 4-digit years >= 1900 are Gregorian, else Jalali."""
    try:
        if year >= _FIRST_GREGORIAN_YEAR:
            return datetime.date(year, month, day)
        gregorian: datetime.date = jdatetime.date(year, month, day).togregorian()
        return gregorian
    except (ValueError, OverflowError):
        raise Refused("date_not_exist") from None


def _numeric(tokens: list[str]) -> list[Candidate]:
    """Readings of digits only: 8 digits (year first or day first), or three groups in either order."""
    if len(tokens) == 1 and len(tokens[0]) == 8:
        t = tokens[0]
        return [(t[:4], int(t[4:6]), int(t[6:])), (t[4:], int(t[2:4]), int(t[:2]))]
    if len(tokens) != 3 or len(tokens[1]) > 2 or any(len(t) not in (1, 2, 4) for t in tokens):
        raise Refused("date_format")
    a, b, c = tokens
    if len(a) == 4 and len(c) == 4:
        raise Refused("date_format")
    if len(a) == 4:
        return [(a, int(b), int(c))]
    if len(c) == 4:
        return [(c, int(b), int(a))]
    return [(a, int(b), int(c)), (c, int(b), int(a))]  # both orders: asked about when both make sense


def _number(token: str) -> bool:
    """Latin digits only (normalize made Persian and Arabic-Indic ones Latin); `²` or `৫` is no number here."""
    return token.isascii() and token.isdigit()


def _named(tokens: list[str]) -> list[Candidate]:
    """A month written as a word: `8 Azar 1405`, `۸ آذر ۱۴۰۵`, `1405 آذر 8`."""
    names = [t for t in tokens if not _number(t)]
    numbers = [t for t in tokens if _number(t)]
    if len(names) != 1 or names[0] not in _MONTHS or len(numbers) != 2:
        raise Refused("date_format")
    month = _MONTHS[names[0]]
    x, y = numbers
    if len(x) == 4 or len(y) == 4:
        year, day = (x, y) if len(x) == 4 else (y, x)
        return [(year, month, int(day))] if len(day) <= 2 else []
    day_first = tokens.index(names[0]) == 1
    return [(y, month, int(x)), (x, month, int(y))] if day_first else [(x, month, int(y)), (y, month, int(x))]


def _candidates(text: str) -> list[Candidate]:
    """Every way the typed text can be read as a date, the likeliest first."""
    text = normalize(text).casefold().strip(". ")
    if not text or len(text) > _LONGEST or "_" in text or not _SHAPE.fullmatch(text):
        raise Refused("date_format")
    tokens = _TOKEN.findall(text)
    found = _numeric(tokens) if all(_number(t) for t in tokens) else _named(tokens)
    return [c for c in found if len(c[0]) <= 2 or int(c[0]) in _JALALI_YEARS or int(c[0]) in _GREGORIAN_YEARS]


def _check(candidate: Candidate, today: datetime.date, not_before: datetime.date | None) -> datetime.date:
    year_text, month, day = candidate
    year = int(year_text) + (_CENTURY if len(year_text) <= 2 else 0)
    d = _to_date(year, month, day)
    if d > today:
        raise Refused("date_future")
    if not_before is not None and d < not_before:
        raise Refused("date_before_last", last=to_jalali_str(not_before))
    return d


def parse_reading_date(text: str, today: datetime.date, not_before: datetime.date | None = None) -> datetime.date:
    """Validate the date a meter was read; '0' means today because that is the common case.
    A form that reads as two possible days is asked about, never guessed."""
    if latin_digits(text).strip() == "0":
        return today
    candidates = _candidates(text)
    if not candidates:
        raise Refused("date_format")
    days: list[datetime.date] = []
    first_error: Refused | None = None
    for candidate in candidates:
        try:
            day = _check(candidate, today, not_before)
        except Refused as err:
            first_error = first_error or err
            continue
        if day not in days:
            days.append(day)
    if len(days) > 1:
        raise Refused("date_ambiguous", first=to_jalali_str(days[0]), second=to_jalali_str(days[1]))
    if days:
        return days[0]
    assert first_error is not None
    raise first_error
