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
