"""The one test harness: the signed-webhook client signs as Twilio does, and no test tier imports another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from sms_gateway.phone import sms_of
from sms_gateway.webhook_client import Sms, TwilioChannel, WebhookClient

TESTS = Path(__file__).resolve().parents[1]
TIERS = ("unit", "integration", "e2e", "faults")
URL = "http://127.0.0.1:8000/sms/twilio"


def test_a_form_is_signed_as_twilio_signs_it() -> None:
    channel = TwilioChannel("token", to="+15005550006", account_sid="AC1")
    form = channel.form(Sms("+989121234567", "READ", "SM1"))
    assert form == {
        "From": "+989121234567",
        "To": "+15005550006",
        "Body": "READ",
        "AccountSid": "AC1",
        "MessageSid": "SM1",
        "NumMedia": "0",
    }
    headers = channel.headers(URL, form)
    assert RequestValidator("token").validate(URL, form, headers["X-Twilio-Signature"])
    assert not RequestValidator("token").validate(URL.replace("twilio", "other"), form, headers["X-Twilio-Signature"])
    assert channel.headers(URL, form, signature="forged") == {"X-Twilio-Signature": "forged"}


def test_an_mms_and_a_complete_form() -> None:
    mms = TwilioChannel("token").form(Sms("+989121234567", media=[("http://x/1", "image/png")]))
    assert (mms["NumMedia"], mms["MediaUrl0"], mms["MediaContentType0"], mms["Body"]) == (
        "1",
        "http://x/1",
        "image/png",
        "",
    )
    full = TwilioChannel("token", complete=True).form(Sms("+989121234567", "1", "SM2"))
    assert len(full) == 20 and full["SmsSid"] == full["SmsMessageSid"] == "SM2"


def test_replies_are_the_twiml_messages() -> None:
    twiml = b"<?xml version='1.0'?><Response><Message>one</Message><Message /></Response>"
    assert TwilioChannel("token").replies(twiml) == ["one", ""]
    assert TwilioChannel("token").replies(b"<Response/>") == []


def test_a_client_posts_to_the_channel_path() -> None:
    assert WebhookClient.local(TwilioChannel("token"), 8123).url == "http://127.0.0.1:8123/sms/twilio"


@pytest.mark.parametrize(
    ("line", "text", "media"),
    [
        ("قرائت", "قرائت", []),
        ("/mms http://x/a.jpg", "", [("http://x/a.jpg", "image/jpeg")]),
        ("/mms http://x/a.png image/png", "", [("http://x/a.png", "image/png")]),
        ("/mms ", "/mms ", []),  # no URL: sent as typed, not a crash of the phone
    ],
)
def test_the_terminal_phone_reads_a_line_as_one_sms(line: str, text: str, media: list[tuple[str, str]]) -> None:
    sms = sms_of("+989121234567", line)
    assert (sms.text, list(sms.media)) == (text, media)


def imported(path: Path) -> set[str]:
    """Every module a file imports, at any depth (a function-level import counts too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("tier", TIERS)
def test_a_tier_imports_only_the_shared_harness(tier: str) -> None:
    others = {f"tests.{t}" for t in TIERS if t != tier} | {"tests.conftest"}
    wrong = sorted(
        f"{path.name}: {name}"
        for path in (TESTS / tier).glob("*.py")
        for name in imported(path)
        if any(name == o or name.startswith(o + ".") for o in others)
    )
    assert wrong == []
