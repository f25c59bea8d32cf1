"""Sender phones in one form (E.164) whatever the channel: one phone's dialog, limits and opt-out, one key."""

from __future__ import annotations

import functools
import re

import phonenumbers

MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
SENDER = re.compile(r"[+\w:.@-]{1,20}")  # E.164, a short code, an alphanumeric id (fits the mobile columns)


@functools.lru_cache(maxsize=4096)
def canonical_phone(raw: str) -> str:
    """E.164 for any form an Iranian gateway sends (09…, 989…, +989…); other senders kept as they are."""
    try:
        number = phonenumbers.parse(raw if not raw.startswith("98") else "+" + raw, "IR")
    except phonenumbers.NumberParseException:
        return raw.strip()
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in MOBILE_TYPES:
        return raw.strip()
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def sender_of(raw: str) -> str:
    """The canonical sender, or "" when it is not usable as one (nothing is answered to "")."""
    sender = canonical_phone(raw)
    return sender if SENDER.fullmatch(sender) else ""
