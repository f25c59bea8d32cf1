"""Property tests against the REAL webhook (runtime.build + create_app, real Redis, real SQLite, signed posts):
any body at every dialog step — any Unicode, control characters, RTL marks, emoji, 1,600 characters, SQL and
HTML injection, empty bodies, missing fields — never a 5xx, always a reply in the subscriber's language, and the
session never corrupted (it loads, and the next valid answer still works).

Examples per step: the hypothesis profile `kontor-ci` (under CI=true: 2,000 a step, 16,000 in all, about four
minutes on 2 cores), else `kontor-dev` (200 a step); HYPOTHESIS_PROFILE picks one explicitly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.steps import STEP
from dialogs.text import normalize, script_of
from sms_gateway import optout
from sms_gateway.runtime import catalogue
from tests.support.hook import Hook, flush, replies, running_hook, settings_for

settings.register_profile(
    "kontor-ci",
    max_examples=2000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "kontor-dev",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# CI (CI=true) runs 2,000 examples per step, 16,000 in all; a developer's `make test` runs 200 per step.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "kontor-ci" if os.environ.get("CI") else "kontor-dev")

CAT = catalogue()
PHONE = "+989121234567"
PATH = {
    "bill": "1234567804121",
    "nid": "0012345679",
    "reading": "04620",
    "date": "0",
    "desc": "0",
    "receipt": "0",
    "confirm": "2",
}
ORDER = ["none", "bill", "nid", "reading", "date", "desc", "receipt", "confirm"]
PERSIAN = re.compile("[\u0600-\u06ff]")

NASTY = [
    "",
    " ",
    "\x00",
    "\r\n",
    "\u200f\u202e1234\u202c",
    "\u200c",
    "\ufeff",
    "🙂" * 50,
    "' OR 1=1; --",
    "'); DROP TABLE requests; --",
    "<script>alert(1)</script>",
    "<?xml version='1.0'?><!DOCTYPE x>",
    "]]><Message>x</Message>",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "%s%s%n",
    "\\x00",
    "null",
    "NaN",
    "-1",
    "99999999999999999999999",
    "۱۴۰۵/۱۳/۴۵",
    "١٢٣٤٥٦",
    "0" * 400,
    "9" * 1600,
    "ي ك ى",
    "ـــ",
    "1",
    "2",
    "0",
    "READ",
    "قرائت",
    "HELP",
    "راهنما",
    "CANCEL",
    "لغو",
    "EN",
    "FA",
    "INQUIRE",
    "پیگیری 123",
    "INQUIRE 516700544744",
    "STOP",
    "START",
    "لغو عضویت",
    "عضویت",
    "stop please",
]
BODIES = st.one_of(
    st.text(max_size=160),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Nd", "So", "Lo"]), max_size=80),
    st.text(st.sampled_from("0123456789۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩/., -\u200c\u200f"), max_size=24),
    st.sampled_from(NASTY),
    st.tuples(st.sampled_from(NASTY), st.text(max_size=20)).map("".join),
    st.text(min_size=1590, max_size=1600),
)
DROPS = st.sets(st.sampled_from(["Body", "MessageSid", "NumMedia"]), max_size=2)


@pytest.fixture(scope="module")
def fuzz_hook(redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hook]:
    """One app for the whole file; limits high enough that the fuzzing itself is not rate limited."""
    flush(redis_server)
    folder = tmp_path_factory.mktemp("fuzz")
    with running_hook(
        settings_for(
            folder,
            redis_server,
            limits__per_phone_per_minute=10**9,
            limits__global_per_second=10**9,
            limits__inquire_per_hour=10**9,
        )
    ) as hook:
        yield hook


@pytest.fixture(scope="module")
def snapshots(fuzz_hook: Hook) -> dict[tuple[str, str], bytes | None]:
    """Walk a real conversation through the webhook to every step, in both languages, and keep each raw session."""
    kept: dict[tuple[str, str], bytes | None] = {}
    key = f"kontor:{{{PHONE}}}:s"
    for lang, start in (("en", "READ"), ("fa", "قرائت")):
        fuzz_hook.sms(PHONE, "CANCEL")
        kept[("none", lang)] = None
        fuzz_hook.sms(PHONE, start)
        for step in ORDER[1:]:
            assert fuzz_hook.services.sessions.peek(PHONE).dialog.step == step
            kept[(step, lang)] = fuzz_hook.services.redis.get(key)
            if step != "confirm":
                fuzz_hook.sms(PHONE, PATH[step])
    return kept


def restore(hook: Hook, raw: bytes | None) -> None:
    client = hook.services.redis
    client.delete(f"kontor:{{{PHONE}}}:s", f"kontor:{{{PHONE}}}:lock", f"kontor:{{{PHONE}}}:optout")
    if raw is not None:
        client.set(f"kontor:{{{PHONE}}}:s", raw)


def expected_language(before: str, body: str) -> str | None:
    """The language the reply must be in; None when the body is a keyword that may switch or restart it."""
    text = normalize(body)
    if CAT.match_keyword(text) or optout.is_stop(body) or optout.is_start(body):
        return None
    return before if before != "none" else (script_of(text) or "fa")


def in_language(reply: str, lang: str) -> bool:
    return bool(PERSIAN.search(reply)) if lang == "fa" else not PERSIAN.search(reply)


def still_works(hook: Hook) -> None:
    """The session still loads, and the valid answer for its step moves it on (or READ starts afresh)."""
    stored = hook.services.sessions.peek(PHONE)
    hook.services.redis.delete(f"kontor:{{{PHONE}}}:optout")
    if stored.dialog is None:
        assert hook.sms(PHONE, "READ") == [CAT.text("ask_bill", "en")]
        return
    step = stored.dialog.step
    assert step in STEP and stored.dialog.language in ("fa", "en")
    answer = PATH.get(step, "0")
    assert hook.sms(PHONE, answer), step
    after = hook.services.sessions.peek(PHONE).dialog
    assert after is not None and after.step != step, (step, answer, after)


def check(hook: Hook, snapshots: dict, step: str, lang: str, body: str, drop: set[str]) -> None:
    restore(hook, snapshots[(step, lang)])
    params = {k: v for k, v in hook.params(PHONE, body).items() if k not in drop}
    response = hook.post(params)
    assert response.status_code == 200, response.status_code
    got = replies(response)
    assert got, "no reply"
    expected = expected_language(lang if step != "none" else "none", params.get("Body", ""))
    if expected is not None:
        assert all(in_language(r, expected) for r in got), (expected, got)
    still_works(hook)


@pytest.mark.parametrize("step", ORDER)
def test_any_body_at_any_step(fuzz_hook: Hook, snapshots: dict, step: str) -> None:
    @settings(settings.get_profile(PROFILE))
    @given(lang=st.sampled_from(["fa", "en"]), body=BODIES, drop=DROPS)
    def prop(lang: str, body: str, drop: set[str]) -> None:
        check(fuzz_hook, snapshots, step, lang, body, drop)

    prop()


def test_a_missing_sender_is_never_an_error(fuzz_hook: Hook) -> None:
    params = {k: v for k, v in fuzz_hook.params(PHONE, "READ").items() if k != "From"}
    response = fuzz_hook.post(params)
    assert response.status_code == 200 and replies(response) == []
