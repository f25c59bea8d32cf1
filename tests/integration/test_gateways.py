"""Issue 8: the gateway as a port. The outbound adapter is chosen by `outbound.gateway` and brings its sender
number and media access; an inbound channel is a registered blueprint with its own error answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters import senders
from adapters.senders.outbox import OutboxSender
from adapters.senders.twilio import TWILIO_API, TwilioSender
from sms_gateway import channels, runtime
from sms_gateway.channels.numbers import sender_of
from sms_gateway.settings import ConfigError
from tests.support.hook import Hook, flush, replies, running_hook, settings_for
from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN

CAT = runtime.catalogue()
STANDIN = "http://127.0.0.1:9"


def test_the_shipped_config_keeps_sms_in_the_outbox(tmp_path: Path, redis_server: str) -> None:
    services = runtime.build(settings_for(tmp_path, redis_server))
    assert services.settings.outbound.gateway == "outbox" and isinstance(services.sms, OutboxSender)
    assert services.media.allowed_prefixes == () and services.media.auth is None  # no gateway to fetch from
    services.redis.close()


def test_the_twilio_gateway_brings_its_number_and_media_access(tmp_path: Path, redis_server: str) -> None:
    services = runtime.build(settings_for(tmp_path, redis_server, STANDIN))
    assert services.settings.outbound.gateway == "twilio" and isinstance(services.sms, TwilioSender)
    assert services.sms.number == services.settings.twilio.from_number
    assert set(services.media.allowed_prefixes) == {STANDIN + "/", TWILIO_API + "/"}
    assert services.media.auth == (ACCOUNT_SID, AUTH_TOKEN)
    services.redis.close()


def test_credentials_alone_do_not_choose_the_gateway(tmp_path: Path, redis_server: str) -> None:
    settings = settings_for(tmp_path, redis_server, STANDIN, outbound__gateway="outbox")
    assert isinstance(senders.from_settings(settings), OutboxSender)


def test_the_twilio_gateway_without_credentials_refuses_to_start(tmp_path: Path, redis_server: str) -> None:
    with pytest.raises(ValueError, match="twilio.account_sid"):
        senders.from_settings(settings_for(tmp_path, redis_server, outbound__gateway="twilio"))


def test_an_unknown_gateway_stops_kontor_with_its_name(tmp_path: Path, redis_server: str) -> None:
    with pytest.raises(ConfigError, match="outbound.gateway"):
        settings_for(tmp_path, redis_server, outbound__gateway="pigeon")


@pytest.mark.parametrize(
    "raw, sender",
    [
        ("09121234567", "+989121234567"),
        ("989121234567", "+989121234567"),
        ("+15005550006", "+15005550006"),
        ("<script>", ""),
        ("x" * 21, ""),
    ],
)
def test_every_channel_gets_one_form_of_the_sender(raw: str, sender: str) -> None:
    assert sender_of(raw) == sender


@pytest.fixture()
def hook(redis_server: str, tmp_path: Path) -> Iterator[Hook]:
    flush(redis_server)
    with running_hook(settings_for(tmp_path, redis_server)) as running:
        yield running


def test_the_app_serves_every_registered_channel(hook: Hook) -> None:
    routes = {rule.rule for rule in hook.client.application.url_map.iter_rules()}
    assert {channel.path for channel in channels.enabled(hook.services.settings).values()} <= routes
    assert channels.webhook_urls("http://host:8080/", hook.services.settings) == ["http://host:8080/sms/twilio"]
    assert channels.CHANNELS["kavenegar"].path not in routes  # off (no webhook_token): not even served


def test_a_bug_outside_the_handler_is_the_channels_200_and_elsewhere_a_plain_500(
    hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise KeyError("bug")

    hook.client.application.add_url_rule("/boom", "boom", broken)
    response = hook.client.get("/boom")
    assert response.status_code == 500 and response.data == b"500 Internal Server Error\n"
    monkeypatch.setattr("sms_gateway.channels.common.replies_to", broken)
    response = hook.post(hook.params("+989121234567", "READ"))
    assert response.status_code == 200 and replies(response) == [CAT.text("try_again_later", "fa")]
