"""Kavenegar over real parts: its sender against the local stand-in of its API (retried, held, failed by code,
found by localid), the outbox through it, and its webhook in the real app on real Redis and SQL (secret path,
GET and POST, one reply owed once per message id, delivery reports)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.clock import utcnow
from adapters.senders import AccountError, PermanentSendError, TransientSendError
from adapters.senders.kavenegar import KavenegarSender
from sms_gateway import bootstrap, outbox, runtime
from sms_gateway.runtime import catalogue
from storage import repository
from storage.models import OutboundMessage
from tests.support.hook import Hook, flush, installed_services, running_hook, settings_for
from tests.support.kavenegar_standin import KavenegarStandIn

KEY, TOKEN, LINE, PHONE = "4A6B-test-key", "kv-webhook-secret-0123456789", "10004346", "+989121234567"
CAT = catalogue()


@pytest.fixture()
def kavenegar() -> Iterator[KavenegarStandIn]:
    standin = KavenegarStandIn(KEY).start()
    yield standin
    standin.stop()


def kv_settings(standin_url: str) -> dict[str, object]:
    return {
        "kavenegar__api_key": KEY,
        "kavenegar__sender": LINE,
        "kavenegar__api_base_url": standin_url,
        "kavenegar__webhook_token": TOKEN,
    }


def test_a_send_returns_kavenegars_message_id_and_keeps_our_local_id(kavenegar: KavenegarStandIn) -> None:
    sender = KavenegarSender(KEY, LINE, kavenegar.url)
    provider_id = sender.send(PHONE, "سلام", "42")
    assert kavenegar.messages[-1]["receptor"] == "09121234567" and kavenegar.messages[-1]["sender"] == LINE
    assert provider_id == str(kavenegar.messages[-1]["messageid"]) and kavenegar.to(PHONE) == ["سلام"]
    assert sender.find(PHONE, "سلام", utcnow(), "42") == provider_id
    assert sender.find(PHONE, "سلام", utcnow(), "43") is None and sender.find(PHONE, "x", utcnow()) is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (418, TransientSendError),
        (451, TransientSendError),
        (500, TransientSendError),
        (401, AccountError),
        (411, PermanentSendError),
        (412, PermanentSendError),
    ],
)
def test_each_injected_failure_raises_its_kind(kavenegar: KavenegarStandIn, status: int, error: type) -> None:
    kavenegar.fail_next.append(status)
    with pytest.raises(error, match=str(status)):
        KavenegarSender(KEY, LINE, kavenegar.url).send(PHONE, "x", "1")
    assert kavenegar.messages == []


def test_a_wrong_key_is_an_account_error_and_no_answer_is_transient(kavenegar: KavenegarStandIn) -> None:
    with pytest.raises(AccountError):
        KavenegarSender("wrong", LINE, kavenegar.url).send(PHONE, "x")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed: nothing listens
    with pytest.raises(TransientSendError, match="network"):
        KavenegarSender(KEY, LINE, f"http://127.0.0.1:{port}").send(PHONE, "x")
    with pytest.raises(TransientSendError):
        KavenegarSender(KEY, LINE, f"http://127.0.0.1:{port}").find(PHONE, "x", utcnow(), "1")


@pytest.fixture()
def services(tmp_path: Path, redis_server: str, kavenegar: KavenegarStandIn) -> Iterator[runtime.Services]:
    yield installed_services(tmp_path, redis_server, None, outbound__gateway="kavenegar", **kv_settings(kavenegar.url))
    bootstrap.uninstall()


def owe(services: runtime.Services, key: str) -> int:
    with services.db.begin() as db:
        return repository.owe_message(db, key, PHONE, "کد رهگیری", utcnow()).id


def row(services: runtime.Services, message_id: int) -> OutboundMessage:
    with services.db() as db:
        return db.get_one(OutboundMessage, message_id)


def test_the_outbox_retries_no_credit_then_sends_once(services: runtime.Services, kavenegar: KavenegarStandIn) -> None:
    message_id = owe(services, "tracking:kv-1")
    kavenegar.fail_next.extend([418, 451])
    for _ in range(2):
        with pytest.raises(TransientSendError):
            outbox.deliver(message_id)
        assert row(services, message_id).status == "pending"
    outbox.deliver(message_id)
    outbox.deliver(message_id)
    sent = row(services, message_id)
    assert (sent.status, sent.provider, sent.provider_id) == (
        "sent",
        "kavenegar",
        str(kavenegar.messages[0]["messageid"]),
    )
    assert kavenegar.to(PHONE) == ["کد رهگیری"]


def test_an_invalid_receptor_fails_the_message_with_its_code(
    services: runtime.Services, kavenegar: KavenegarStandIn
) -> None:
    message_id = owe(services, "tracking:kv-2")
    kavenegar.fail_next.append(411)
    outbox.deliver(message_id)
    failed = row(services, message_id)
    assert failed.status == "failed" and "411" in failed.error and kavenegar.messages == []


@pytest.fixture()
def hook(redis_server: str, tmp_path: Path, kavenegar: KavenegarStandIn) -> Iterator[Hook]:
    flush(redis_server)
    with running_hook(settings_for(tmp_path, redis_server, **kv_settings(kavenegar.url))) as running:
        yield running


def owed(hook: Hook) -> list[tuple[str, str]]:
    with hook.services.db() as db:
        return [(m.to, m.body) for m in db.scalars(select(OutboundMessage).order_by(OutboundMessage.id))]


def test_a_wrong_or_missing_token_is_403_and_nothing_is_stored(hook: Hook) -> None:
    form = {"from": "09121234567", "to": LINE, "message": "قرائت", "messageid": "1"}
    for path in (
        "/sms/kavenegar/wrong",
        f"/sms/kavenegar/{TOKEN}x",
        "/sms/kavenegar/",
        "/sms/kavenegar/wrong/delivery",
    ):
        assert hook.client.post(path, data=form).status_code in (403, 404), path
        assert hook.client.get(path, query_string=form).status_code in (403, 404), path
    assert hook.client.post("/sms/kavenegar/wrong", data=form).status_code == 403
    assert owed(hook) == [] and hook.services.redis.keys("kontor:*") == []


def test_get_and_post_both_answer_200_and_the_reply_is_owed(hook: Hook) -> None:
    path = f"/sms/kavenegar/{TOKEN}"
    post = hook.client.post(path, data={"from": "09121234567", "to": LINE, "message": "قرائت", "messageid": "100"})
    assert post.status_code == 200 and post.data == b"ok\n"
    get = hook.client.get(path, query_string={"from": "09351234567", "to": LINE, "message": "READ", "messageid": "101"})
    assert get.status_code == 200
    assert owed(hook) == [(PHONE, CAT.text("ask_bill", "fa")), ("+989351234567", CAT.text("ask_bill", "en"))]


def test_a_redelivered_message_is_answered_once(hook: Hook) -> None:
    path = f"/sms/kavenegar/{TOKEN}"
    form = {"from": "09121234567", "to": LINE, "message": "قرائت", "messageid": "200"}
    for _ in range(3):
        assert hook.client.post(path, data=form).status_code == 200
    assert hook.client.get(path, query_string=form).status_code == 200
    assert owed(hook) == [(PHONE, CAT.text("ask_bill", "fa"))]
    hook.client.post(path, data={**form, "message": "1234567804121", "messageid": "201"})
    assert len(owed(hook)) == 2
    with hook.services.db() as db:  # one deliver job per owed reply, none for the redeliveries
        assert db.scalar(select(func.count()).select_from(OutboundMessage)) == 2
    assert hook.services.queue.count == 2


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"message": "x"},
        {"from": "", "message": "", "messageid": ""},
        {"from": "0912" * 40, "messageid": "x" * 500},
        {"from": "09121234567", "message": "\x00\u200c\ufffd", "messageid": "1"},
        {"messageid": "8792343", "status": "²"},  # a digit int() cannot read
    ],
)
def test_bad_input_after_the_token_is_never_a_5xx(hook: Hook, form: dict[str, str]) -> None:
    assert hook.client.post(f"/sms/kavenegar/{TOKEN}", data=form).status_code == 200
    assert hook.client.post(f"/sms/kavenegar/{TOKEN}/delivery", data=form).status_code == 200


def test_a_delivery_report_updates_the_sent_message(hook: Hook) -> None:
    with hook.services.db.begin() as db:
        message = repository.owe_message(db, "tracking:x", PHONE, "کد", utcnow())
        message.status, message.provider, message.provider_id = "sent", "kavenegar", "8792343"
    path = f"/sms/kavenegar/{TOKEN}/delivery"
    assert hook.client.post(path, data={"messageid": "8792343", "status": "4"}).status_code == 200
    assert hook.client.get(path, query_string={"messageid": "8792343", "status": "10"}).status_code == 200
    assert hook.client.post(path, data={"messageid": "8792343", "status": "1"}).status_code == 200  # late: ignored
    assert hook.client.post(path, data={"messageid": "999", "status": "11"}).status_code == 200  # unknown id
    assert (
        hook.client.post("/sms/kavenegar/x/delivery", data={"messageid": "8792343", "status": "11"}).status_code == 403
    )
    with hook.services.db() as db:
        stored = db.scalars(select(OutboundMessage)).one()
        assert (stored.status, stored.delivery_status) == ("sent", "delivered") and stored.delivery_at is not None


def test_a_reply_that_cannot_be_owed_is_503_and_owed_on_the_redelivery(
    hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, form = f"/sms/kavenegar/{TOKEN}", {"from": "09121234567", "to": LINE, "message": "قرائت", "messageid": "300"}

    def down(*args: object) -> None:
        raise OSError("database down")

    with monkeypatch.context() as patch:
        patch.setattr(repository, "owe_message", down)
        assert hook.client.post(path, data=form).status_code == 503
    assert owed(hook) == []
    assert hook.client.post(path, data=form).status_code == 200
    assert owed(hook) == [(PHONE, CAT.text("ask_bill", "fa"))]


def test_a_refused_account_holds_the_message_loudly_then_sends_it(
    services: runtime.Services, kavenegar: KavenegarStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    message_id = owe(services, "tracking:kv-3")
    kavenegar.fail_next.extend([401, 407])
    for _ in range(2):
        with pytest.raises(AccountError):
            outbox.deliver(message_id)
        assert row(services, message_id).status == "pending"  # held, never failed
    assert caplog.text.count("KAVENEGAR REFUSED THE ACCOUNT") == 2
    outbox.deliver(message_id)
    assert row(services, message_id).status == "sent" and kavenegar.to(PHONE) == ["کد رهگیری"]
