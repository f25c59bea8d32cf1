"""STOP and START: an opted-out phone gets nothing unsolicited until it sends START (kept in Redis, no TTL)."""
from __future__ import annotations

import redis

from dialogs.text import keyword_form
from sms_gateway.limits import phone_key
from storage.sessions import LockLost, SessionStore

# Compared in keyword_form (case-folded, spaces removed), like the catalogue's keywords; only alone counts.
STOP_WORDS = frozenset(keyword_form(w) for w in ("STOP", "STOPALL", "UNSUBSCRIBE", "لغو عضویت"))
START_WORDS = frozenset(keyword_form(w) for w in ("START", "UNSTOP", "عضویت"))

# KEYS: session, lock, opt-out flag. ARGV: token. Opt out, end the dialog and unlock in one round trip.
_STOP = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], '1')
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
return 1
"""


def is_stop(text: str) -> bool:
    """STOP/UNSUBSCRIBE/لغو عضویت sent alone (a description may still contain the words)."""
    return keyword_form(text) in STOP_WORDS


def is_start(text: str) -> bool:
    return keyword_form(text) in START_WORDS


def key(sessions: SessionStore, phone: str) -> str:
    return phone_key(sessions, phone, "optout")


def stop(client: redis.Redis, sessions: SessionStore, phone: str, token: str) -> None:
    """Mark the phone opted out and end its dialog, only while we hold its lock."""
    keys = sessions._keys(phone) + [key(sessions, phone)]
    if not client.register_script(_STOP)(keys=keys, args=[token]):
        raise LockLost(phone)


def start(client: redis.Redis, sessions: SessionStore, phone: str) -> None:
    client.delete(key(sessions, phone))


def opted_out(client: redis.Redis, sessions: SessionStore, phone: str) -> bool:
    """Checked by the outbox before every unsolicited SMS."""
    return bool(client.exists(key(sessions, phone)))
