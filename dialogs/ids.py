"""Parsing and check-digit validation of the Iranian identifiers a subscriber sends by SMS."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import damm

from dialogs.errors import Refused
from dialogs.text import bare_digits

__all__ = [
    "BillId",
    "SERVICE_NAMES",
    "ELECTRICITY",
    "parse_national_id",
    "bill_check_digit",
    "parse_bill_id",
    "parse_electricity_bill_id",
    "make_payment_id",
    "valid_payment_id",
    "make_tracking_number",
    "parse_tracking_number",
]


ELECTRICITY = 2
SERVICE_NAMES: dict[int, str] = {
    1: "water",
    2: "electricity",
    3: "gas",
    4: "phone",
    5: "mobile",
    6: "municipality",
    8: "tax",
    9: "traffic_fine",
}


@dataclass(frozen=True)
class BillId:
    """A checksum-valid bill ID split into the fields the adapters need."""

    value: str
    file_code: str
    company_code: str
    service: int


def _is_digits(text: str, low: int, high: int) -> bool:
    """ASCII-only length check, because str.isdigit accepts superscripts and other scripts."""
    return re.fullmatch(f"[0-9]{{{low},{high}}}", text) is not None


def _nid_check_digit(first_nine: str) -> int:
    """The national-ID mod-11 rule, kept apart so tests and callers share one definition."""
    r = sum(int(c) * w for c, w in zip(first_nine, range(10, 1, -1), strict=False)) % 11
    return r if r < 2 else 11 - r


def parse_national_id(text: str) -> str:
    """Validate a کد ملی and return its 10 digits, restoring leading zeros phones drop."""
    digits = bare_digits(text)
    if not _is_digits(digits, 8, 10):
        raise Refused("nid_format")
    digits = digits.zfill(10)
    if len(set(digits)) == 1:
        raise Refused("nid_same_digits")
    if _nid_check_digit(digits[:9]) != int(digits[9]):
        raise Refused("nid_checksum")
    return digits


def bill_check_digit(digits: str) -> int:
    """Mod-11 with weights 2..7 from the right, shared by bill IDs and payment IDs."""
    total = sum(int(c) * (2 + i % 6) for i, c in enumerate(reversed(digits)))
    r = total % 11
    return 0 if r < 2 else 11 - r


def parse_bill_id(text: str) -> BillId:
    """Validate any utility شناسه قبض so a typo is caught before we query the company."""
    digits = bare_digits(text)
    if not _is_digits(digits, 1, 64):
        raise Refused("bill_format")
    value = digits.lstrip("0")
    if not _is_digits(value, 6, 13):
        raise Refused("bill_format")
    if bill_check_digit(value[:-1]) != int(value[-1]):
        raise Refused("bill_checksum")
    return BillId(value=value, file_code=value[:-5], company_code=value[-5:-2], service=int(value[-2]))


def parse_electricity_bill_id(text: str) -> BillId:
    """Reject a valid bill of another utility, a common mix-up worth its own message."""
    bill = parse_bill_id(text)
    if bill.service != ELECTRICITY:
        raise Refused("bill_not_electricity", service=SERVICE_NAMES.get(bill.service, "unknown"))
    return bill


def _payment_body(amount_rials: int, year: int, period: int) -> str:
    """Amount in thousands of rials, last digit of the Jalali year, then the 2-digit period."""
    if amount_rials < 0 or year < 0 or not 0 <= period <= 99:
        raise ValueError("amount and year must be non-negative and period in 0..99")
    return f"{amount_rials // 1000}{year % 10}{period:02d}"


def _with_payment_checks(bill_value: str, body: str) -> str:
    """Append both payment check digits; the second ties the payment ID to its bill."""
    first = body + str(bill_check_digit(body))
    second = bill_check_digit((bill_value + first).lstrip("0"))
    return first + str(second)


def make_payment_id(bill_id: str, amount_rials: int, year: int, period: int) -> str:
    """Build the شناسه پرداخت printed on a bill, so tests and fixtures use real values."""
    bill = parse_bill_id(bill_id)
    return _with_payment_checks(bill.value, _payment_body(amount_rials, year, period))


def valid_payment_id(bill_id: str, payment_id: str) -> bool:
    """True only if both check digits match; garbage yields False so callers need no try."""
    try:
        bill = parse_bill_id(bill_id)
        digits = bare_digits(payment_id)
    except (Refused, TypeError, AttributeError):
        return False
    if not _is_digits(digits, 6, 18):
        return False
    return _with_payment_checks(bill.value, digits[:-2]) == digits


def make_tracking_number(body: str) -> str:
    """Append a Damm digit, which catches every single typo and adjacent swap."""
    digits = bare_digits(body)
    if not _is_digits(digits, 11, 11):
        raise ValueError("tracking number body must be exactly 11 digits")
    return digits + damm.calc_check_digit(digits)


def parse_tracking_number(text: str) -> str:
    """Validate a tracking number a subscriber quotes back to us, before any lookup."""
    digits = bare_digits(text)
    if not _is_digits(digits, 10, 12):
        raise Refused("tracking_format")
    if not damm.is_valid(digits):
        raise Refused("tracking_checksum")
    return digits
