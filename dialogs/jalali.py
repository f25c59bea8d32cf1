"""Reading-date parsing: subscribers type Jalali dates, the back end stores Gregorian ones."""

from __future__ import annotations

import datetime
import re

import jdatetime

from dialogs.errors import Refused
from dialogs.text import latin_digits

__all__ = ["parse_reading_date", "to_jalali_str"]

# Year, month, day with any of / - . or the Arabic decimal separator between them.
_DATE = re.compile(r"([0-9]{1,4})[/\-.\u066b]([0-9]{1,2})[/\-.\u066b]([0-9]{1,2})")
_FIRST_GREGORIAN_YEAR = 1900
_CENTURY = 1400


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


def _parse_date(text: str) -> datetime.date:
    """Turn the typed text into a date without judging whether it is plausible."""
    match = _DATE.fullmatch(re.sub(r"\s+", "", latin_digits(text)))
    if match is None:
        raise Refused("date_format")
    year_text, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    if len(year_text) == 3:
        raise Refused("date_format")
    year = int(year_text)
    if len(year_text) <= 2:
        year += _CENTURY
    return _to_date(year, month, day)


def parse_reading_date(text: str, today: datetime.date, not_before: datetime.date | None = None) -> datetime.date:
    """Validate the date a meter was read; '0' means today because that is the common case."""
    d = today if latin_digits(text).strip() == "0" else _parse_date(text)
    if d > today:
        raise Refused("date_future")
    if not_before is not None and d < not_before:
        raise Refused("date_before_last", last=to_jalali_str(not_before))
    return d
