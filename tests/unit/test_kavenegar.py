"""Kavenegar, pure parts: its status codes sorted as the outbox acts on them, its webhook fields read from a form
or a query, its settings (absent or empty secret = off; secrets from the environment), `kontor phone`'s client."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import requests
import yaml

from adapters.senders import AccountError, PermanentSendError, TransientSendError
from adapters.senders.kavenegar import classify, receptor, return_of
from dialogs.request import ConfirmedRequest
from sms_gateway import channels
from sms_gateway.channels.kavenegar import enabled, event_key, inbound_of, token_ok
from sms_gateway.export import COLUMNS
from sms_gateway.phone import channel_of
from sms_gateway.settings import Settings, load
from sms_gateway.webhook_client import KavenegarChannel, Sms, TwilioChannel

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


def settings(tmp_path: Path, kavenegar: object = "shipped", environ: dict[str, str] | None = None) -> Settings:
    config = copy.deepcopy(SHIPPED)
    if kavenegar is None:
        del config["kavenegar"]
    elif kavenegar != "shipped":
        config["kavenegar"] = kavenegar
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return load(path, environ=environ or {})


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (200, None),
        (418, TransientSendError),  # no credit
        (451, TransientSendError),  # too often
        (500, TransientSendError),
        (502, TransientSendError),
        (401, AccountError),
        (403, AccountError),
        (407, AccountError),  # IP not allow-listed
        (411, PermanentSendError),  # invalid receptor
        (412, PermanentSendError),  # invalid sender
        (413, PermanentSendError),
        (422, PermanentSendError),
    ],
)
def test_each_return_status_is_sorted_as_the_outbox_acts_on_it(status: int, error: type | None) -> None:
    found = classify(status, "x")
    assert (type(found) if found else None) is error
    if found is not None:
        assert str(status) in str(found)  # the code is kept: a failed message says why


def test_an_account_error_is_held_and_retried_not_failed() -> None:
    assert isinstance(classify(401), TransientSendError) and not isinstance(classify(401), PermanentSendError)


def answer(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body  # noqa: SLF001 - a Response built by hand, as requests does
    return response


def test_the_answer_is_read_from_return_status_and_an_unreadable_one_by_its_http_status() -> None:
    body = {"return": {"status": 200, "message": "تایید شد"}, "entries": [{"messageid": 8792343, "status": 1}]}
    assert return_of(answer(200, json.dumps(body).encode())) == (200, "تایید شد", body["entries"])
    assert return_of(answer(200, b'{"return": {"status": 418, "message": "credit"}}'))[:2] == (418, "credit")
    assert return_of(answer(502, b"<html>bad gateway</html>"))[0] == 502
    assert return_of(answer(200, b'{"return": "x"}'))[0] == 200 and return_of(answer(200, b"[]"))[2] == []


def test_the_receptor_is_written_as_kavenegar_documents_it() -> None:
    assert receptor("+989121234567") == "09121234567"
    assert receptor("+447700900123") == "00447700900123"


@pytest.mark.parametrize(
    ("values", "sender", "text", "message_id"),
    [
        (
            {"from": "09121234567", "to": "10004346", "message": "قرائت", "messageid": "123"},
            "+989121234567",
            "قرائت",
            "kv-123",
        ),
        ({"from": "989351234567", "message": "READ", "messageid": " 77 "}, "+989351234567", "READ", "kv-77"),
        ({"from": "<script>", "message": "x", "messageid": "9"}, "", "x", "kv-9"),
        ({}, "", "", None),
    ],
)
def test_the_webhook_fields_become_one_inbound(
    values: dict[str, str], sender: str, text: str, message_id: str | None
) -> None:
    inbound = inbound_of(values)
    assert (inbound.sender, inbound.text, inbound.channel) == (sender, text, "kavenegar")
    if message_id is None:
        assert inbound.message_id.startswith("kv-local-") and inbound_of(values).message_id != inbound.message_id
    else:
        assert inbound.message_id == message_id


def test_the_token_must_match_exactly_and_an_empty_one_matches_nothing() -> None:
    assert token_ok("s3cret-token", "s3cret-token")
    assert not token_ok("s3cret-tokem", "s3cret-token") and not token_ok("", "s3cret-token")
    assert not token_ok("", "") and not token_ok("ا", "s3cret-token")


def test_a_reply_is_owed_once_per_message_and_text() -> None:
    assert event_key("kv-1", 0, "a") == event_key("kv-1", 0, "a")
    assert len({event_key("kv-1", 0, "a"), event_key("kv-1", 0, "b"), event_key("kv-2", 0, "a")}) == 3
    assert len(event_key("kv-" + "9" * 60, 9, "x" * 1000)) <= 100  # fits outbound_messages.event_key


def test_the_channel_is_off_without_its_section_or_its_token(tmp_path: Path) -> None:
    assert settings(tmp_path).kavenegar is not None and not enabled(settings(tmp_path))
    assert settings(tmp_path, None).kavenegar is None and not enabled(settings(tmp_path, None))
    assert list(channels.enabled(settings(tmp_path))) == ["twilio"]
    on = settings(tmp_path, environ={"KONTOR_KAVENEGAR_WEBHOOK_TOKEN": "tok", "KONTOR_KAVENEGAR_API_KEY": "key"})
    assert enabled(on) and on.kavenegar is not None and on.kavenegar.api_key == "key"
    assert list(channels.enabled(on)) == ["twilio", "kavenegar"]
    assert channels.webhook_urls("http://h:1", on) == [
        "http://h:1/sms/twilio",
        "http://h:1/sms/kavenegar/<webhook_token>",
        "http://h:1/sms/kavenegar/<webhook_token>/delivery",
    ]


def test_the_kavenegar_gateway_needs_its_key_and_line(tmp_path: Path) -> None:
    from adapters import senders

    config = {"api_key": "", "sender": "10004346", "api_base_url": "http://127.0.0.1:9", "webhook_token": ""}
    s = settings(tmp_path, config)
    with pytest.raises(ValueError, match="kavenegar.api_key"):
        senders.from_settings(type(s)(**{**s.__dict__, "outbound": type(s.outbound)(10, "kavenegar")}))
    s = settings(tmp_path, {**config, "api_key": "k"})
    sender = senders.from_settings(type(s)(**{**s.__dict__, "outbound": type(s.outbound)(10, "kavenegar")}))
    assert (sender.name, sender.number) == ("kavenegar", "10004346")


def test_the_terminal_phone_speaks_either_channel(tmp_path: Path) -> None:
    assert isinstance(channel_of(settings(tmp_path), "twilio"), TwilioChannel)
    with pytest.raises(ValueError, match="webhook_token"):
        channel_of(settings(tmp_path), "kavenegar")
    on = settings(tmp_path, environ={"KONTOR_KAVENEGAR_WEBHOOK_TOKEN": "tok"})
    kv = channel_of(on, "kavenegar")
    assert isinstance(kv, KavenegarChannel) and kv.path == "/sms/kavenegar/tok"
    assert kv.form(Sms("+989121234567", "سلام", "55")) == {
        "from": "09121234567",
        "to": "10004346",
        "message": "سلام",
        "messageid": "55",
    }
    assert kv.headers("u", {}) == {} and kv.replies(b"ok\n") == []


def test_a_request_records_its_channel_and_the_export_shows_it() -> None:
    assert "channel" in COLUMNS
    field = ConfirmedRequest.__dataclass_fields__["channel"]
    assert field.default == "sms"  # as the column's default: a request from before channels were recorded


def test_an_unknown_or_mistyped_kavenegar_key_stops_kontor(tmp_path: Path) -> None:
    from sms_gateway.settings import ConfigError

    with pytest.raises(ConfigError, match="kavenegar.apikey"):
        settings(tmp_path, {"apikey": "x"})
    with pytest.raises(ConfigError, match="kavenegar.webhook_token"):
        settings(tmp_path, {"webhook_token": 12})
    assert settings(tmp_path, {"webhook_token": "t"}).kavenegar.api_base_url == "https://api.kavenegar.com"
