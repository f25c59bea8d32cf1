"""Every form an Iranian gateway sends a mobile in ends up as one E.164 number; other senders stay as they are."""

import pytest

from sms_gateway.channels.numbers import canonical_phone


@pytest.mark.parametrize(
    "raw", ["09121234567", "989121234567", "+989121234567", "00989121234567", "۰۹۱۲۱۲۳۴۵۶۷", "0912 123 4567"]
)
def test_mobile_forms(raw):
    assert canonical_phone(raw) == "+989121234567"


@pytest.mark.parametrize("raw", ["02188776655", "+15005550006", "Kontor", "", "12"])
def test_not_an_iranian_mobile_is_kept_as_sent(raw):
    assert canonical_phone(raw) == raw.strip()


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("09411234567", "+989411234567"),  # ranges phonenumbers' data does not know yet are mobiles all the same
        ("09951234567", "+989951234567"),
        ("09981234567", "+989981234567"),
        ("+989991234567", "+989991234567"),
        ("+98 912 123 4567", "+989121234567"),
        ("0912\u200c1234567", "+989121234567"),  # a ZWNJ inside the number is filler, not the end of it
        ("\u200f+98\u200e9121234567", "+989121234567"),
    ],
)
def test_every_plus98_9xx_number_is_a_mobile(raw, e164):
    assert canonical_phone(raw) == e164


def test_one_subscriber_one_key_whatever_the_gateway_sends():
    forms = ["09121234567", "989121234567", "+989121234567", "0098 912 123 4567", "۰۹۱۲‌۱۲۳۴۵۶۷"]
    assert {canonical_phone(f) for f in forms} == {"+989121234567"}
