"""The USSD callback in the real app on real Redis and SQLite: its gates, its screens, a resend, a slow lookup."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sms_gateway.runtime import catalogue
from sms_gateway.ussd_client import UssdChannel
from sms_gateway.webhook_client import Sms
from tests.support.hook import Hook, flush, running_hook, settings_for

CAT = catalogue()
USSD = CAT.on("ussd")
TOKEN = "ussd-secret-token"
PHONE = "+989121234567"
BILL, NID = "1234567804121", "0012345679"


class Handset:
    """A phone on the aggregator, posting into the in-process app."""

    def __init__(self, hook: Hook, token: str = TOKEN) -> None:
        self.hook, self.channel = hook, UssdChannel(token)

    def post(self, form: dict[str, str], **kwargs: object) -> tuple[int, str]:
        response = self.hook.client.post(self.channel.path, data=form, **kwargs)
        return response.status_code, response.get_data(as_text=True)

    def press(self, text: str, phone: str = PHONE) -> str:
        """One input (or "" to dial); the screen with its CON/END."""
        status, body = self.post(self.channel.form(Sms(phone, text)))
        assert status == 200 and body.startswith(("CON ", "END ")), (status, body)
        self.channel.replies(body.encode())
        return body


def con(*lines: str) -> str:
    return "CON " + "\n".join(lines)


def end(*lines: str) -> str:
    return "END " + "\n".join(lines)


@pytest.fixture()
def hook(redis_server: str, tmp_path: Path) -> Iterator[Hook]:
    flush(redis_server)
    with running_hook(settings_for(tmp_path, redis_server, ussd__token=TOKEN, ussd__answer_seconds=1.0)) as running:
        yield running


def test_only_the_token_path_answers(hook: Hook) -> None:
    phone = Handset(hook)
    assert phone.press("") == con(USSD.text("menu", "fa"))
    for path in ("/ussd/africastalking/wrong", "/ussd/africastalking/", "/ussd/other/" + TOKEN, "/ussd/x"):
        assert hook.client.post(path, data=phone.channel.last_form).status_code == 403, path
    assert hook.client.get(phone.channel.path).status_code in (403, 405)


def test_a_malformed_callback_gets_an_end_with_an_apology(hook: Hook) -> None:
    phone = Handset(hook)
    sorry = end(USSD.text("sorry", "fa"))
    for form in ({}, {"sessionId": "s1", "text": ""}, {"sessionId": "", "phoneNumber": PHONE}):
        assert phone.post(form) == (200, sorry), form
    assert phone.post({"sessionId": "s1", "phoneNumber": PHONE, "text": "1*" * 600}) == (200, sorry)


def test_a_resent_callback_is_applied_once(hook: Hook) -> None:
    phone = Handset(hook)
    phone.press("")
    phone.press("1")
    assert phone.press(BILL) == con(CAT.text("ask_nid", "fa"))
    assert phone.post(phone.channel.last_form) == (200, con(CAT.text("ask_nid", "fa")))  # the aggregator resends
    assert hook.services.sessions.peek(PHONE).dialog.step == "nid"


def test_one_session_whatever_form_the_number_comes_in(hook: Hook) -> None:
    assert hook.sms(PHONE, "قرائت") == [CAT.text("ask_bill", "fa")]
    assert hook.sms(PHONE, BILL) == [CAT.text("ask_nid", "fa")]
    phone = Handset(hook)
    assert phone.press("", phone="09121234567") == con(CAT.text("ask_nid", "fa"))  # the same dialog, by USSD
    assert phone.press(NID, phone="09121234567").startswith("CON ")
    assert hook.services.sessions.peek(PHONE).dialog.step == "reading"


def test_the_channel_is_off_without_a_token(redis_server: str, tmp_path: Path) -> None:
    flush(redis_server)
    with running_hook(settings_for(tmp_path, redis_server)) as off:
        phone = Handset(off, token="")
        # an off channel is not served at all (as Kavenegar's): no route, so nothing can be stored through it
        assert off.client.post("/ussd/africastalking/x", data={"sessionId": "s"}).status_code == 404
        assert phone.post({"sessionId": "s", "phoneNumber": PHONE, "text": ""})[0] == 404


def test_allow_from_admits_only_the_aggregators_addresses(redis_server: str, tmp_path: Path) -> None:
    flush(redis_server)
    settings = settings_for(tmp_path, redis_server, ussd__token=TOKEN, ussd__allow_from=["10.20.0.0/16", "10.9.9.9"])
    with running_hook(settings) as gated:
        phone = Handset(gated)
        form = phone.channel.form(Sms(PHONE, ""))
        assert phone.post(form)[0] == 403  # the test client calls from 127.0.0.1
        assert phone.post(form, environ_base={"REMOTE_ADDR": "10.20.3.4"}) == (200, con(USSD.text("menu", "fa")))
        assert phone.post(form, environ_base={"REMOTE_ADDR": "10.9.9.9"})[0] == 200


def test_a_slow_subscriber_system_gets_try_again_and_the_input_is_kept(redis_server: str, tmp_path: Path) -> None:
    flush(redis_server)
    settings = settings_for(
        tmp_path, redis_server, ussd__token=TOKEN, ussd__answer_seconds=0.5, sandbox__latency_ms=1500
    )
    with running_hook(settings) as slow:
        phone = Handset(slow)
        phone.press("")
        phone.press("1")
        started = time.monotonic()
        assert phone.press(BILL) == end(USSD.text("try_again_later", "fa"))
        assert time.monotonic() - started < 1.4  # answered at the deadline, not after the lookup
        deadline = time.monotonic() + 10
        while slow.services.sessions.peek(PHONE).dialog.step != "nid":
            assert time.monotonic() < deadline, "the bill lookup finished in the background"
            time.sleep(0.1)
        assert phone.press("") == con(CAT.text("ask_nid", "fa"))  # dialled again: the bill is not asked again


def test_a_bug_is_an_end_not_a_5xx(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr("sms_gateway.channels.ussd.receive", broken)
    assert Handset(hook).press("") == end(USSD.text("sorry", "fa"))


@pytest.mark.parametrize("service_code, first", [("*733*1234567804121#", ""), ("*733#", BILL)])
def test_a_dial_string_with_the_bill_starts_with_the_bill_answered(hook: Hook, service_code: str, first: str) -> None:
    phone = Handset(hook)
    phone.channel.service_code = service_code  # the bill in the serviceCode, or handed over as the first input
    assert phone.press(first) == con(CAT.text("ask_nid", "fa"))
    assert hook.services.sessions.peek(PHONE).dialog.answers.bill_id == BILL
