"""The whole service card over Kavenegar through real processes: Kavenegar's receive webhook into gunicorn on its
secret path, replies and the tracking SMS sent by the worker through the local stand-in of Kavenegar's REST API
(`outbound.gateway: kavenegar`), the request recorded with its channel, INQUIRE, and delivery reports."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import create_engine, select

from dialogs.ids import valid_payment_id
from sms_gateway.procs import Runner, kontor_argv
from sms_gateway.runtime import catalogue
from sms_gateway.webhook_client import KavenegarChannel, Sms, WebhookClient, new_message_id
from storage.models import OutboundMessage
from tests.e2e.test_conversation import DEMO, export, tracking_in
from tests.e2e.test_up import ANSWERS, local_config, read_lines
from tests.support.kavenegar_standin import KavenegarStandIn
from tests.support.stack import AUTH_TOKEN, Stack, free_port, set_config, write_config

KEY, TOKEN, LINE = "4A6B-e2e-key", "kv-e2e-secret-0123456789abcdef", "10004346"
CAT = catalogue()


@pytest.fixture(scope="module")
def kavenegar() -> Iterator[KavenegarStandIn]:
    standin = KavenegarStandIn(KEY).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def kv_stack(
    redis_server: str, kavenegar: KavenegarStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("kv-stack")
    redis.Redis.from_url(redis_server).flushall()
    port = free_port()
    config = write_config(
        folder,
        redis_server,
        f"sqlite:///{folder / 'kontor.db'}",
        None,
        port,
        outbound__gateway="kavenegar",
        kavenegar__api_key=KEY,
        kavenegar__sender=LINE,
        kavenegar__api_base_url=kavenegar.url,
        kavenegar__webhook_token=TOKEN,
    )
    running = Stack(config, port, AUTH_TOKEN)
    running.channel = KavenegarChannel(TOKEN, to=LINE)  # type: ignore[assignment]  # the stack speaks Kavenegar
    running.client = WebhookClient.local(running.channel, port)
    running.start()
    yield running
    running.stop()


def sms(stack: Stack, kavenegar: KavenegarStandIn, phone: str, text: str, expect: int = 1) -> list[str]:
    """One message into Kontor as Kavenegar delivers it; the replies that then reach Kavenegar's send API."""
    before = len(kavenegar.to(phone))
    response = stack.post(stack.channel.form(Sms(phone, text, new_message_id())))
    assert response.status_code == 200 and response.text == "ok\n", response.text
    return kavenegar.wait_for(phone, before + expect)[before:]


def test_each_demo_subscriber_over_kavenegar(kv_stack: Stack, kavenegar: KavenegarStandIn) -> None:
    for name, (phone, answers, readings) in DEMO.items():
        assert sms(kv_stack, kavenegar, phone, "قرائت") == [CAT.text("ask_bill", "fa")], name
        for answer in answers:
            summary = sms(kv_stack, kavenegar, phone, answer)
        assert summary[0].startswith("قبض ") and "۱=تایید" in summary[0], name
        replies = sms(kv_stack, kavenegar, phone, "1", expect=3)  # the confirmation, the tracking SMS, the bill
        assert replies.count(CAT.text("confirmed", "fa")) == 1, replies
        tracking = tracking_in(next(r for r in replies if r != CAT.text("confirmed", "fa")))
        tracking_sms = CAT.text("tracking_sms", "fa", tracking=tracking)
        assert tracking_sms in replies, replies
        outcome = next(r for r in replies if r not in (tracking_sms, CAT.text("confirmed", "fa")))
        record = next(r for r in json.loads(export(kv_stack)) if r["tracking_number"] == tracking)
        assert (record["channel"], record["mobile"], record["readings"]) == ("kavenegar", phone, readings)
        assert record["status"] == "bill_issued" and valid_payment_id(record["bill_id"], record["payment_id"])
        assert outcome == CAT.text(
            "sms_bill_issued",
            "fa",
            tracking=tracking,
            amount=f"{record['bill_amount']:,}",
            payment_id=record["payment_id"],
        )
        assert sms(kv_stack, kavenegar, phone, f"پیگیری {tracking}") == [
            CAT.text(
                "status_bill",
                "fa",
                tracking=tracking,
                amount=f"{record['bill_amount']:,}",
                payment_id=record["payment_id"],
            )
        ]


def test_inquire_in_english_and_a_redelivered_webhook_answered_once(
    kv_stack: Stack, kavenegar: KavenegarStandIn
) -> None:
    phone = "+989121111111"
    form = kv_stack.channel.form(Sms(phone, "INQUIRE", "kv-redelivered-1"))
    before = len(kavenegar.to(phone))
    for _ in range(3):
        assert kv_stack.post(form).status_code == 200
    assert requests.get(kv_stack.url, params=form, timeout=10).status_code == 200
    replies = kavenegar.wait_for(phone, before + 1)[before:]
    assert replies == [CAT.text("no_requests", "en")]  # this Kontor has none from this phone
    assert sms(kv_stack, kavenegar, phone, "READ") == [CAT.text("ask_bill", "en")]  # and nothing more was sent
    assert len(kavenegar.to(phone)) == before + 2


def test_a_wrong_token_is_refused_and_a_delivery_report_is_recorded(
    kv_stack: Stack, kavenegar: KavenegarStandIn
) -> None:
    phone = "+989121234567"
    bad = requests.post(
        kv_stack.url.replace(TOKEN, "guess"), data={"from": "09121234567", "message": "قرائت"}, timeout=10
    )
    assert bad.status_code == 403
    sent = sms(kv_stack, kavenegar, phone, "READ")
    provider_id = str(next(m for m in reversed(kavenegar.messages) if m["message"] == sent[0])["messageid"])
    delivery = requests.get(kv_stack.url + "/delivery", params={"messageid": provider_id, "status": "10"}, timeout=10)
    assert delivery.status_code == 200
    database = create_engine(f"sqlite:///{kv_stack.config.parent / 'kontor.db'}")
    with database.connect() as db:
        status = db.execute(
            select(OutboundMessage.status, OutboundMessage.delivery_status).where(
                OutboundMessage.provider_id == provider_id
            )
        ).one()
    database.dispose()
    assert tuple(status) == ("sent", "delivered")


def test_kontor_up_would_print_the_kavenegar_urls(kv_stack: Stack) -> None:
    from sms_gateway import channels
    from sms_gateway.settings import load

    urls = channels.webhook_urls("http://h:1", load(kv_stack.config))
    assert urls[1:] == ["http://h:1/sms/kavenegar/<webhook_token>", "http://h:1/sms/kavenegar/<webhook_token>/delivery"]


def test_kontor_up_prints_the_kavenegar_webhooks_and_the_terminal_phone_speaks_kavenegar(tmp_path: Path) -> None:
    config, port = local_config(tmp_path)
    set_config(config, kavenegar__webhook_token=TOKEN)  # outbound stays the local outbox: no account needed
    runner = Runner(tmp_path, cwd=tmp_path)
    runner.start("up", kontor_argv("up", config))
    phone: subprocess.Popen[str] | None = None
    try:
        runner.wait_http("up", f"http://127.0.0.1:{port}/healthz", timeout=60)
        phone = subprocess.Popen(
            kontor_argv("phone", config, "--from", "09121234567", "--channel", "kavenegar"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=read_lines, args=(phone.stdout, lines), daemon=True).start()
        assert phone.stdin is not None
        for answer in ANSWERS:
            phone.stdin.write(answer + "\n")
            phone.stdin.flush()
        seen, deadline = "", time.monotonic() + 60
        while "شناسه پرداخت" not in seen and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                seen += lines.get(timeout=1)
        phone.stdin.close()
        phone.wait(15)
        assert TOKEN not in seen, seen  # the secret path is not shown
        assert "📩 SMS: " + CAT.text("ask_bill", "fa") in seen and "📩 SMS: " + CAT.text("confirmed", "fa") in seen
        assert "📩 SMS: " + CAT.text("tracking_sms", "fa", tracking="")[:-1] in seen and "شناسه پرداخت" in seen, seen
        assert "← " not in seen  # nothing comes back in Kavenegar's HTTP answer
        log = runner.log("up")
        assert f"/sms/kavenegar/<webhook_token>, http://127.0.0.1:{port}/sms/kavenegar/<webhook_token>/delivery" in log
    finally:
        if phone is not None and phone.poll() is None:
            phone.kill()
            phone.wait(5)
        runner.stop("up", timeout=60)
