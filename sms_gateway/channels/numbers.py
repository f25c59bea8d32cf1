"""Sender phones in one form (E.164) whatever the channel: one phone's dialog, limits and opt-out, one key."""

from __future__ import annotations

import functools
import re

import phonenumbers

from dialogs.text import latin_digits

MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
SENDER = re.compile(r"[+\w:.@-]{1,20}")  # E.164, a short code, an alphanumeric id (fits the mobile columns)
# What gateways and phones put inside a number: spaces, hyphens, brackets, zero-width and bidi marks.
_FILLER = re.compile("[\\s\\-()\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]+")
# Every Iranian mobile is +98 9xx xxx xxxx, in any of the forms gateways send: 09…, 9…, 989…, +989…, 00989….
_IRAN_MOBILE = re.compile(r"(?:\+98|0098|98|0)?(9[0-9]{9})")


@functools.lru_cache(maxsize=4096)
def canonical_phone(raw: str) -> str:
    """E.164 for any form an Iranian gateway sends (09…, 989…, +989…); other senders kept as they are.
    The 9xx prefix decides for Iran, even for ranges newer than phonenumbers' data (0941, 0995, 0998, 0999)."""
    bare = _FILLER.sub("", latin_digits(raw))
    iranian = _IRAN_MOBILE.fullmatch(bare)
    if iranian:
        return "+98" + iranian.group(1)
    try:
        number = phonenumbers.parse(bare if not bare.startswith("98") else "+" + bare, "IR")
    except phonenumbers.NumberParseException:
        return raw.strip()
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in MOBILE_TYPES:
        return raw.strip()
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def sender_of(raw: str) -> str:
    """The canonical sender, or "" when it is not usable as one (nothing is answered to "")."""
    sender = canonical_phone(raw)
    return sender if SENDER.fullmatch(sender) else ""
