"""Issue 4 defences on the real webhook (Flask app from runtime.build, real Redis, real SQLite): rate limits,
STOP/START, a webhook that never answers 5xx, and logs that never hold a whole identifier."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialogs.ids import make_tracking_number
from sms_gateway import runtime
from sms_gateway.app import create_app
from sms_gateway.handler import say
from sms_gateway.logs import mask_digits
from tests.support.hook import Hook, flush, replies, running_hook, settings_for

CAT = runtime.catalogue()
PHONE, OTHER = "+989121234567", "+989351234567"
SINGLE = ["1234567804121", "0012345679", "04620", "0", "0", "0"]  # bill, national ID, reading, date, desc, receipt


@pytest.fixture()
def hook(redis_server: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Hook]:
    """A hook with the limits a test names via @pytest.mark.parametrize('hook', [{...}], indirect=True)."""
    flush(redis_server)
    overrides = getattr(request, "param", {})
    with running_hook(settings_for(tmp_path, redis_server, **overrides)) as running:
        yield running


def queued(hook: Hook) -> int:
    return hook.services.queue.count


# ------------------------------------------------------------------ rate limits


@pytest.mark.parametrize("hook", [{"limits__per_phone_per_minute": 7}], indirect=True)
def test_a_flood_from_one_phone_gets_one_notice_and_no_outbound(hook: Hook) -> None:
    assert hook.converse(PHONE, ["READ"] + SINGLE)[0].startswith("Bill ")  # 7 messages: at the limit
    flood = [hook.sms(PHONE, "1") for _ in range(25)]  # the confirm is over the limit
    assert flood[0] == [say(hook.services, "rate_limited", "en")]
    assert all(r == [] for r in flood[1:])
    assert queued(hook) == 0  # no job, so no tracking SMS
    assert hook.services.sessions.peek(PHONE).dialog.step == "confirm"  # the dialog is untouched
    assert hook.sms(OTHER, "READ") == [CAT.text("ask_bill", "en")]  # other phones are not limited


@pytest.mark.parametrize("hook", [{"limits__per_phone_per_minute": 2}], indirect=True)
def test_stop_is_honoured_over_the_limit_and_an_opted_out_flood_gets_no_notice(hook: Hook) -> None:
    hook.converse(PHONE, ["READ", "x"])  # at the limit
    assert hook.sms(PHONE, "STOP") == []  # over it, and still honoured
    assert hook.services.sessions.opted_out(PHONE)
    assert all(hook.sms(PHONE, "READ") == [] for _ in range(5))  # no notice to an opted-out phone


@pytest.mark.parametrize("hook", [{"limits__global_per_second": 3}], indirect=True)
def test_the_global_limit_drops_silently_and_releases_the_lock(hook: Hook) -> None:
    answered = [bool(hook.sms(f"+98912000{i:04d}", "READ")) for i in range(12)]
    assert answered.count(True) <= 6 and answered.count(False) >= 6  # at most two one-second windows
    dropped = f"+98912000{answered.index(False):04d}"
    assert hook.services.redis.exists(f"kontor:{{{dropped}}}:lock") == 0


@pytest.mark.parametrize("hook", [{"limits__inquire_per_hour": 2}], indirect=True)
def test_inquire_with_a_number_is_limited_per_hour(hook: Hook) -> None:
    guesses = [make_tracking_number(f"{10**10 + i}") for i in range(5)]
    answers = [hook.sms(PHONE, f"INQUIRE {g}") for g in guesses]
    assert answers[:2] == [[CAT.text("not_found", "en")]] * 2
    assert answers[2] == [say(hook.services, "rate_limited", "en")] and answers[3:] == [[], []]
    assert hook.sms(PHONE, "INQUIRE") == [CAT.text("no_requests", "en")]  # the list is not a guess


# ------------------------------------------------------------------ STOP / START


@pytest.mark.parametrize(
    "stop, start, lang", [("STOP", "START", "en"), ("لغو عضویت", "عضویت", "fa"), ("unsubscribe", "unstop", "en")]
)
def test_stop_opts_out_until_start(hook: Hook, stop: str, start: str, lang: str) -> None:
    hook.converse(PHONE, ["READ" if lang == "en" else "قرائت", SINGLE[0]])
    assert hook.sms(PHONE, stop) == [say(hook.services, "opted_out", lang)]
    assert hook.services.redis.ttl(f"kontor:{{{PHONE}}}:optout") == -1  # persistent: no TTL
    assert hook.services.sessions.peek(PHONE).dialog is None
    assert hook.sms(PHONE, "READ") == [] and hook.sms(PHONE, "1") == []  # nothing answered meanwhile
    back = hook.sms(PHONE, start)
    assert back[0] == say(hook.services, "opted_in", "en" if start.isascii() else "fa")
    assert hook.sms(PHONE, "READ") == [CAT.text("ask_bill", "en")]


def test_stop_inside_a_description_is_just_text(hook: Hook) -> None:
    hook.converse(PHONE, ["READ"] + SINGLE[:4])
    assert hook.sms(PHONE, "please stop by the meter")[0].startswith(CAT.text("ask_receipt", "en")[:10])
    assert not hook.services.redis.exists(f"kontor:{{{PHONE}}}:optout")


# ------------------------------------------------------------------ never a 5xx


def test_a_body_over_the_limit_is_413(hook: Hook) -> None:
    params = hook.params(PHONE, "x" * 70_000)
    response = hook.post(params)
    assert response.status_code == 413 and b"Traceback" not in response.data
    assert hook.services.sessions.peek(PHONE).dialog is None


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("get", "/nope", 404),
        ("post", "/nope", 404),
        ("get", "/sms/twilio", 405),
        ("put", "/sms/twilio", 405),
        ("delete", "/healthz", 405),
        ("get", "/sms/twilio/x", 404),
    ],
)
def test_unknown_paths_and_methods_are_plain_404_405(hook: Hook, method: str, path: str, status: int) -> None:
    response = getattr(hook.client, method)(path)
    assert response.status_code == status
    assert b"Traceback" not in response.data and b"<html" not in response.data.lower()
    if status == 405:
        assert "Allow" in response.headers


@pytest.mark.parametrize("missing", ["Body", "From", "MessageSid", "NumMedia", "To"])
def test_missing_fields_get_a_sane_reply(hook: Hook, missing: str) -> None:
    params = {k: v for k, v in hook.params(PHONE, "READ").items() if k != missing}
    response = hook.post(params)
    assert response.status_code == 200
    expected = {"Body": [CAT.text("menu", "fa")], "From": []}.get(missing, [CAT.text("ask_bill", "en")])
    assert replies(response) == expected


def test_without_message_sid_two_dialogs_get_two_ids(hook: Hook) -> None:
    for phone in (PHONE, OTHER):
        hook.post({k: v for k, v in hook.params(phone, "READ").items() if k != "MessageSid"})
    ids = {hook.services.sessions.peek(p).dialog.dialog_id for p in (PHONE, OTHER)}
    assert len(ids) == 2 and "" not in ids


@pytest.mark.parametrize("sender", ["", "   ", "x" * 500, "<script>", "+98912'; DROP TABLE requests;--"])
def test_a_malformed_sender_is_answered_with_nothing(hook: Hook, sender: str) -> None:
    response = hook.post(hook.params(sender, "READ"))
    assert response.status_code == 200 and replies(response) == []


def test_redis_down_answers_200_with_try_again(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, f"unix://{tmp_path}/no-redis.sock")
    services = runtime.build(settings)
    app = create_app(services).test_client()
    hook = Hook(app, services)
    assert hook.sms(PHONE, "READ") == [CAT.text("try_again_later", "en")]
    assert hook.sms(PHONE, "قرائت") == [CAT.text("try_again_later", "fa")]
    assert app.get("/healthz").status_code == 503


def test_a_bug_in_the_handler_is_still_a_200(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("bug")

    monkeypatch.setattr("sms_gateway.channels.common.receive", broken)
    assert hook.sms(PHONE, "READ") == [CAT.text("try_again_later", "en")]


# ------------------------------------------------------------------ privacy in logs


def test_logs_of_a_whole_conversation_hold_no_identifier(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook.converse(PHONE, ["قرائت", "۱۲۳۴۵۶۷۸۰۴۱۲۱", "0012345679", "04620", "0", "0", "0"])
    hook.sms(PHONE, "1", sid="SMsame")
    hook.sms(PHONE, "1", sid="SMsame")  # a duplicate is logged
    hook.sms(PHONE, "STOP")
    logging.getLogger("kontor.test").warning("raw %s %s %s", PHONE, "0012345679", "1234567804121")
    try:
        raise ValueError(f"boom for {PHONE} nid 0012345679 bill ۱۲۳۴۵۶۷۸۰۴۱۲۱")
    except ValueError:
        logging.getLogger("kontor.test").exception("with traceback")
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records
    for secret in ("9121234567", "0012345679", "1234567804121", "۱۲۳۴۵۶۷۸۰۴۱۲۱", "123456780"):
        assert secret not in text, secret
    assert "****4567" in text  # the last four are kept


def test_mask_digits_keeps_the_last_four_of_long_runs() -> None:
    assert (
        mask_digits("+989121234567 and 0012345679, ref 12345, date 1405/09/05")
        == "+********4567 and ******5679, ref 12345, date 1405/09/05"
    )
    assert mask_digits("۲۲۷۷۸۸۹۹۰۳") == "******۹۹۰۳"
    assert re.search(r"\d{5,}", mask_digits("x" + "9" * 40)) is None


def test_a_bill_lookup_the_subscriber_system_refuses_asks_again(redis_server: str, tmp_path: Path) -> None:
    """A 4xx (here 401) or a malformed meter is final: a clear reply, not an endless 'try again later'."""
    from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN
    from tests.support.twilio_standin import TwilioStandIn

    refusing = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    refusing.media["/bills/1234567804121/meter"] = (b'{"bill_id": "1234567804121"}', "application/json")
    flush(redis_server)
    try:
        with running_hook(settings_for(tmp_path, redis_server, subscriber_system__url=refusing.url)) as hook:
            hook.sms(PHONE, "READ")
            assert hook.sms(PHONE, SINGLE[0]) == [
                CAT.text("err_bill_unknown", "en") + "\n" + CAT.text("ask_bill", "en")
            ]
            assert hook.services.sessions.peek(PHONE).dialog.step == "bill"
    finally:
        refusing.stop()
