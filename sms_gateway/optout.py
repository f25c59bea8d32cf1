"""STOP and START, the policy: which words opt a phone out or back in (the flag itself lives in storage.phones)."""

from __future__ import annotations

from dialogs.text import keyword_form

# Compared in keyword_form (case-folded, spaces removed), like the catalogue's keywords; only alone counts.
STOP_WORDS = frozenset(keyword_form(w) for w in ("STOP", "STOPALL", "UNSUBSCRIBE", "لغو عضویت"))
START_WORDS = frozenset(keyword_form(w) for w in ("START", "UNSTOP", "عضویت"))


def is_stop(text: str) -> bool:
    """STOP/UNSUBSCRIBE/لغو عضویت sent alone (a description may still contain the words)."""
    return keyword_form(text) in STOP_WORDS


def is_start(text: str) -> bool:
    """START/UNSTOP/عضویت sent alone: an opted-out phone is answered again."""
    return keyword_form(text) in START_WORDS
