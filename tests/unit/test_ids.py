"""Unit tests for dialogs.ids: national IDs, bill and payment IDs, tracking numbers."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dialogs.errors import Refused
from dialogs.ids import (
    SERVICE_NAMES,
    BillId,
    bill_check_digit,
    make_payment_id,
    make_tracking_number,
    parse_bill_id,
    parse_electricity_bill_id,
    parse_national_id,
    parse_tracking_number,
    valid_payment_id,
)

VALID_NIDS = ["0012345679", "2277889903", "4455667717", "3004005001", "1234567891"]
ELECTRICITY_BILLS = ["1234567804121", "2345678904125", "3456789004123", "4567890104120"]
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def nid_check(first_nine: str) -> int:
    """Independent re-statement of the national-ID rule, so the tests do not trust the code."""
    r = sum(int(c) * w for c, w in zip(first_nine, range(10, 1, -1), strict=False)) % 11
    return r if r < 2 else 11 - r


def nid_remainder(nid: str) -> int:
    """The raw mod-11 remainder, needed to recognise the algorithm's one blind spot."""
    return sum(int(c) * w for c, w in zip(nid[:9], range(10, 1, -1), strict=False)) % 11


def with_bill_check(prefix: str) -> str:
    """Build a bill ID with the correct check digit appended."""
    return prefix + str(bill_check_digit(prefix))


def single_digit_variants(digits: str) -> list[str]:
    """Every string differing from `digits` in exactly one position."""
    return [digits[:i] + d + digits[i + 1 :] for i in range(len(digits)) for d in "0123456789" if d != digits[i]]


def error_code(func, *args) -> str:
    """Call func expecting an Refused and hand back its code."""
    with pytest.raises(Refused) as info:
        func(*args)
    return info.value.code


# --- national ID ---------------------------------------------------------------


@pytest.mark.parametrize("nid", VALID_NIDS)
def test_example_national_ids_are_valid(nid: str) -> None:
    assert parse_national_id(nid) == nid


@pytest.mark.parametrize("nid", VALID_NIDS)
def test_national_id_accepts_persian_and_arabic_digits_and_spaces(nid: str) -> None:
    assert parse_national_id(nid.translate(PERSIAN)) == nid
    assert parse_national_id(nid.translate(ARABIC)) == nid
    assert parse_national_id(f"  {nid[:3]} {nid[3:]} ") == nid


@pytest.mark.parametrize(("typed", "expected"), [("12345679", "0012345679"), ("012345679", "0012345679")])
def test_national_id_restores_dropped_leading_zeros(typed: str, expected: str) -> None:
    assert parse_national_id(typed) == expected


@pytest.mark.parametrize("text", ["", "1234567", "12345678901", "00123456x9", "abc", "١٢٣"])
def test_national_id_format_errors(text: str) -> None:
    assert error_code(parse_national_id, text) == "nid_format"


def test_national_id_checksum_error() -> None:
    assert error_code(parse_national_id, "0012345678") == "nid_checksum"


@pytest.mark.parametrize("digit", "0123456789")
def test_all_same_digit_national_ids_rejected_though_checksum_passes(digit: str) -> None:
    nid = digit * 10
    assert nid_check(nid[:9]) == int(nid[9])  # they really do pass the mod-11 rule
    assert error_code(parse_national_id, nid) == "nid_same_digits"


def test_same_digits_also_caught_after_zero_restoration() -> None:
    assert error_code(parse_national_id, "00000000") == "nid_same_digits"


def test_national_id_blind_spot_remainders_1_and_10_share_check_digit() -> None:
    # Documents a property of the official algorithm: 1234567891 has r=1, and
    # 1334567891 (one digit changed) has r=10; both map to check digit 1.
    assert nid_remainder("1234567891") == 1 and nid_remainder("1334567891") == 10
    assert parse_national_id("1334567891") == "1334567891"


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@given(body=nine_digits, position=st.integers(0, 9), new_digit=st.sampled_from("0123456789"))
def test_valid_national_id_with_one_digit_changed_fails(body: str, position: int, new_digit: str) -> None:
    nid = body + str(nid_check(body))
    assume(len(set(nid)) > 1 and nid[position] != new_digit)
    assert parse_national_id(nid) == nid
    changed = nid[:position] + new_digit + nid[position + 1 :]
    # The only undetectable single change moves the remainder between 1 and 10.
    assume({nid_remainder(nid), nid_remainder(changed)} != {1, 10})
    assert error_code(parse_national_id, changed) in {"nid_checksum", "nid_same_digits"}


# --- bill ID -------------------------------------------------------------------


@pytest.mark.parametrize("bill", ELECTRICITY_BILLS)
def test_example_electricity_bill_ids_are_valid(bill: str) -> None:
    parsed = parse_electricity_bill_id(bill)
    assert parsed == BillId(value=bill, file_code=bill[:-5], company_code=bill[-5:-2], service=2)


def test_bill_id_fields_and_leading_zero_stripping() -> None:
    parsed = parse_bill_id("00" + "1234567804121")
    assert parsed.value == "1234567804121"
    assert (parsed.file_code, parsed.company_code, parsed.service) == ("12345678", "041", 2)


def test_bill_id_accepts_persian_digits() -> None:
    assert parse_bill_id("1234567804121".translate(PERSIAN)).value == "1234567804121"


def test_bill_check_digit_weights_from_the_right() -> None:
    # 5*2 + 4*3 + 3*4 + 2*5 + 1*6 = 50; 50 % 11 = 6; 11 - 6 = 5
    assert bill_check_digit("12345") == 5
    # 6*2 = 12, remainder 1 -> 0; remainder 0 -> 0 as well; 3*2 = 6 -> 11 - 6 = 5
    assert bill_check_digit("6") == 0 and bill_check_digit("0") == 0
    assert bill_check_digit("3") == 5


def test_shortest_bill_id_is_six_digits() -> None:
    six = with_bill_check("10012")
    assert parse_bill_id(six).file_code == "1"
    assert error_code(parse_bill_id, with_bill_check("0012")) == "bill_format"


@pytest.mark.parametrize("text", ["", "12345", "0000012345", "12345678901234", "12345678O4121", "0000000"])
def test_bill_format_errors(text: str) -> None:
    assert error_code(parse_bill_id, text) == "bill_format"


def test_bill_checksum_error() -> None:
    assert error_code(parse_bill_id, "1234567804122") == "bill_checksum"


@pytest.mark.parametrize(("service", "name"), [(1, "water"), (3, "gas")])
def test_other_utility_bill_is_valid_but_not_electricity(service: int, name: str) -> None:
    bill = with_bill_check(f"12345678041{service}")
    assert parse_bill_id(bill).service == service
    with pytest.raises(Refused) as info:
        parse_electricity_bill_id(bill)
    assert info.value.code == "bill_not_electricity"
    assert info.value.params == {"service": name}


def test_service_names_table() -> None:
    assert SERVICE_NAMES == {
        1: "water",
        2: "electricity",
        3: "gas",
        4: "phone",
        5: "mobile",
        6: "municipality",
        8: "tax",
        9: "traffic_fine",
    }


# --- payment ID ----------------------------------------------------------------


def test_payment_id_layout() -> None:
    pid = make_payment_id("1234567804121", 1_250_000, 1405, 9)
    assert pid[:-2] == "1250" + "5" + "09"
    assert int(pid[-2]) == bill_check_digit("1250509")
    assert int(pid[-1]) == bill_check_digit("1234567804121" + pid[:-1])


@pytest.mark.parametrize("bill", ELECTRICITY_BILLS)
@pytest.mark.parametrize("amount", [4_500, 999_000, 1_250_000, 37_480_000, 123_456_789])
def test_payment_id_roundtrip_and_single_digit_changes_fail(bill: str, amount: int) -> None:
    pid = make_payment_id(bill, amount, 1405, 9)
    assert valid_payment_id(bill, pid)
    assert valid_payment_id(bill.translate(PERSIAN), pid.translate(PERSIAN))
    for changed in single_digit_variants(pid):
        assert not valid_payment_id(bill, changed), changed


def test_payment_id_is_bound_to_its_bill() -> None:
    pid = make_payment_id("1234567804121", 1_250_000, 1405, 9)
    others = [b for b in ELECTRICITY_BILLS[1:] if not valid_payment_id(b, pid)]
    assert others == ELECTRICITY_BILLS[1:]


@pytest.mark.parametrize(
    ("bill", "pid"),
    [
        ("1234567804121", ""),
        ("1234567804121", "abc"),
        ("1234567804121", None),
        ("garbage", "150910"),
        ("1234567804122", "150910"),
        ("1234567804121", "12345"),
    ],
)
def test_payment_id_garbage_returns_false(bill: str, pid: str) -> None:
    assert valid_payment_id(bill, pid) is False


def test_make_payment_id_rejects_bad_bill_and_period() -> None:
    assert error_code(make_payment_id, "1234567804122", 1000, 1405, 9) == "bill_checksum"
    with pytest.raises(ValueError):
        make_payment_id("1234567804121", 1000, 1405, 100)


# --- tracking number -----------------------------------------------------------


def test_tracking_number_roundtrip() -> None:
    number = make_tracking_number("12345678901")
    assert number == "123456789018"
    assert parse_tracking_number(number) == number
    assert parse_tracking_number(number.translate(PERSIAN)) == number


@pytest.mark.parametrize("text", ["", "123456789", "1234567890123", "12345678901x"])
def test_tracking_format_errors(text: str) -> None:
    assert error_code(parse_tracking_number, text) == "tracking_format"


def test_tracking_every_single_digit_error_detected() -> None:
    number = make_tracking_number("40512345678")
    for changed in single_digit_variants(number):
        assert error_code(parse_tracking_number, changed) == "tracking_checksum", changed


def test_tracking_every_adjacent_transposition_detected() -> None:
    number = make_tracking_number("40512345678")
    for i in range(len(number) - 1):
        swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        if swapped != number:
            assert error_code(parse_tracking_number, swapped) == "tracking_checksum", swapped


def test_make_tracking_number_rejects_wrong_body_length() -> None:
    with pytest.raises(ValueError):
        make_tracking_number("1234567890")


@given(body=st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_make_tracking_number_output_always_parses(body: str) -> None:
    number = make_tracking_number(body)
    assert number[:11] == body and len(number) == 12
    assert parse_tracking_number(number) == number
