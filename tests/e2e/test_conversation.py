"""The whole service card over real parts: signed webhooks into gunicorn, Redis sessions, an RQ worker,
SQL, and the tracking SMS sent by twilio's REST client to the local stand-in."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta

import requests

from adapters import clock
from dialogs.ids import valid_payment_id
from dialogs.jalali import to_jalali_str
from sms_gateway.export import COLUMNS
from sms_gateway.runtime import catalogue
from tests.support.stack import Stack
from tests.support.twilio_standin import TwilioStandIn

CAT = catalogue()
TODAY = clock.tehran_today()  # the sandbox's last readings are 30 days before today
DAY_4 = to_jalali_str(TODAY - timedelta(days=4))  # reading dates typed in Jalali
DAY_4_FA = DAY_4.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
DAY_3 = TODAY - timedelta(days=3)
DAY_3_JALALI = to_jalali_str(DAY_3)
DEMO = {
    "single": ("+989121234567", ["1234567804121", "0012345679", "04620", "0", "کنتور در حیاط", "0"], {"mid": "04620"}),
    "tou": (
        "+989351234567",
        ["۲۳۴۵۶۷۸۹۰۴۱۲۵", "۲۲۷۷۸۸۹۹۰۳", "۰۱۲۱۰۰", "٠٢٣١٥٠", "004050", DAY_4, "0", "987654"],
        {"low": "012100", "mid": "023150", "peak": "004050"},
    ),
    "industrial": (
        "+989191234567",
        [
            "3456789004123",
            "4455667717",
            "100400",
            "201000",
            "050300",
            "080100",
            "010050",
            "118.5",
            DAY_4_FA,
            "شیفت شب تعطیل بود",
            "55667788",
        ],
        {
            "low": "100400",
            "mid": "201000",
            "peak": "050300",
            "reactive": "080100",
            "friday": "010050",
            "demand": "118.5",
        },
    ),
}


def wait_for_sms(twilio: TwilioStandIn, phone: str, count: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(twilio.to(phone)) >= count:
            return twilio.to(phone)
        time.sleep(0.05)
    raise AssertionError(f"no SMS #{count} to {phone}; got {twilio.to(phone)}")


def tracking_in(text: str) -> str:
    return re.search(r"\d{12}", text).group(0)


def outcome_of(stack: Stack, twilio: TwilioStandIn, phone: str, before: int) -> tuple[str, str, dict]:
    """The phone's newest request: its tracking number, its outcome SMS and its exported record."""
    tracking_sms, outcome = wait_for_sms(twilio, phone, before + 2)[-2:]
    tracking = tracking_in(tracking_sms)
    return tracking, outcome, next(r for r in json.loads(export(stack)) if r["tracking_number"] == tracking)


def converse(stack: Stack, phone: str, start: str, answers: list[str]) -> list[str]:
    replies = stack.sms(phone, start)
    for answer in answers:
        replies = stack.sms(phone, answer)
    return replies


def export(stack: Stack, fmt: str = "json") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sms_gateway.cli", "requests", "export", "--format", fmt, "--config", str(stack.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_each_demo_subscriber_gets_a_tracking_number_then_a_bill(stack: Stack, twilio: TwilioStandIn) -> None:
    for name, (phone, answers, readings) in DEMO.items():
        before = len(twilio.to(phone))
        summary = converse(stack, phone, "قرائت", answers)
        assert summary[0].startswith("قبض ") and "۱=تایید" in summary[0], name
        assert stack.sms(phone, "1") == [CAT.text("confirmed", "fa")]
        tracking_sms, outcome_sms = wait_for_sms(twilio, phone, before + 2)[-2:]
        tracking = tracking_in(tracking_sms)
        assert tracking_sms == CAT.text("tracking_sms", "fa", tracking=tracking)
        record = next(r for r in json.loads(export(stack)) if r["tracking_number"] == tracking)
        assert record["readings"] == readings and record["mobile"] == phone
        assert record["bill_id"] == answers[0].translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
        assert record["status"] == "bill_issued", record
        assert valid_payment_id(record["bill_id"], record["payment_id"]) and record["bill_amount"] > 0
        assert outcome_sms == CAT.text(
            "sms_bill_issued",
            "fa",
            tracking=tracking,
            amount=f"{record['bill_amount']:,}",
            payment_id=record["payment_id"],
        )
        assert set(record["consumption"]) == set(readings)
        status = stack.sms(phone, f"پیگیری {tracking}")
        assert status == [
            CAT.text(
                "status_bill",
                "fa",
                tracking=tracking,
                amount=f"{record['bill_amount']:,}",
                payment_id=record["payment_id"],
            )
        ]
        stranger = stack.sms("+989121111111", f"پیگیری {tracking}")
        assert stranger == [CAT.text("not_found", "fa")]


def test_identity_failures_are_rejected_with_a_reason(stack: Stack, twilio: TwilioStandIn) -> None:
    cases = [
        ("+989301234567", "1234567804121", "1234567891", "person_deceased"),
        ("+989121234567", "1234567804121", "2277889903", "mobile_not_owner"),
    ]
    for phone, bill, nid, reason in cases:
        before = len(twilio.to(phone))
        converse(stack, phone, "قرائت", [bill, nid, "04600", "0", "0", "0"])
        stack.sms(phone, "1")
        tracking, outcome, record = outcome_of(stack, twilio, phone, before)
        assert outcome == CAT.text("sms_rejected", "fa", tracking=tracking, reason=CAT.text(f"reason_{reason}", "fa"))
        assert (record["status"], record["status_reason"]) == ("rejected", reason)


def test_an_implausible_reading_confirmed_goes_under_review(stack: Stack, twilio: TwilioStandIn) -> None:
    phone = "+989121234567"
    before = len(twilio.to(phone))
    converse(stack, phone, "قرائت", ["1234567804121", "0012345679"])
    assert stack.sms(phone, "05200") == [CAT.text("ask_unusual", "fa", kwh=688)]
    assert stack.sms(phone, "1") == [CAT.text("ask_date", "fa")]
    converse(stack, phone, "0", ["0", "0", "1"])
    tracking, outcome, record = outcome_of(stack, twilio, phone, before)
    assert outcome == CAT.text("sms_under_review", "fa", tracking=tracking)
    assert record["status"] == "under_review" and record["bill_amount"] is None and record["payment_id"] == ""
    listing = stack.sms(phone, "پیگیری")[0]
    assert listing.startswith(CAT.text("status_list", "fa", lines="")) and tracking in listing


def test_a_wrapped_meter_confirmed_goes_under_review(stack: Stack, twilio: TwilioStandIn) -> None:
    phone = "+989131234567"
    before = len(twilio.to(phone))
    converse(stack, phone, "قرائت", ["5678901204122", "1234560003"])
    assert stack.sms(phone, "00040") == [CAT.text("ask_wrap", "fa", value="00040", last="99950")]
    assert stack.sms(phone, "1") == [CAT.text("ask_date", "fa")]
    converse(stack, phone, "0", ["0", "0", "1"])
    tracking, outcome, record = outcome_of(stack, twilio, phone, before)
    assert outcome == CAT.text("sms_under_review", "fa", tracking=tracking)
    assert record["status"] == "under_review" and record["consumption"] == {"mid": 90.0}


def test_an_english_conversation_and_the_export_fields(stack: Stack, twilio: TwilioStandIn) -> None:
    phone = "+989121111111"
    before = len(twilio.to(phone))
    assert stack.sms(phone, "READ") == [CAT.text("ask_bill", "en")]
    converse(
        stack, phone, "read", ["4567890104120", "3004005001", "30633", DAY_3_JALALI, "Meter is outside", "12345678"]
    )
    stack.sms(phone, "1")
    tracking = tracking_in(wait_for_sms(twilio, phone, before + 1)[-1])
    assert stack.sms(phone, "INQUIRE")[0].startswith(CAT.text("status_list", "en", lines=""))
    record = next(r for r in json.loads(export(stack)) if r["tracking_number"] == tracking)
    assert record == {
        **record,
        "bill_id": "4567890104120",
        "national_id": "3004005001",
        "mobile": phone,
        "readings": {"mid": "30633"},
        "reading_date": DAY_3.isoformat(),
        "reading_date_jalali": DAY_3_JALALI,
        "description": "Meter is outside",
        "receipt_reference": "12345678",
        "attachments": [],
    }
    assert set(record) >= {"created_at", "updated_at", "status"}
    csv_out = export(stack, "csv")
    assert csv_out.splitlines()[0].split(",") == list(COLUMNS) and tracking in csv_out


def test_mms_media_is_fetched_checked_and_kept(stack: Stack, twilio: TwilioStandIn) -> None:
    phone = "+989351234567"
    before = len(twilio.to(phone))
    jpeg = b"\xff\xd8\xff\xe0" + b"card" * 1000
    card = twilio.add_media("card", jpeg, "image/jpeg")
    receipt = twilio.add_media("receipt", b"%PDF-1.4 receipt", "application/pdf")
    script = twilio.add_media("script", b"<script>", "text/html")
    converse(stack, phone, "قرائت", ["2345678904125", "2277889903"])
    assert stack.sms(phone, "", media=[(card, "image/jpeg")])[0] == CAT.text("media_kept", "fa")
    assert stack.sms(phone, "", media=[(script, "image/jpeg")])[0] == CAT.text("media_kept", "fa")
    converse(stack, phone, "012500", ["023500", "004100", "0", "0"])
    assert stack.sms(phone, "", media=[(receipt, "application/pdf")])[0].startswith("قبض ")
    stack.sms(phone, "1")
    tracking = tracking_in(wait_for_sms(twilio, phone, before + 2)[-2])
    record = next(r for r in json.loads(export(stack)) if r["tracking_number"] == tracking)
    kept = {a["url"]: a for a in record["attachments"]}
    assert kept[card]["status"] == "stored" and kept[card]["sha256"] == hashlib.sha256(jpeg).hexdigest()
    assert kept[receipt]["status"] == "stored" and kept[receipt]["content_type"] == "application/pdf"
    assert kept[script]["status"] == "refused_type"
    media_dir = stack.config.parent / "var" / "media"
    assert (media_dir / kept[card]["file"]).read_bytes() == jpeg


def test_a_forged_webhook_is_refused_and_changes_nothing(stack: Stack, redis_server: str) -> None:
    phone = "+989127777777"
    params = {"From": phone, "To": "+15005550006", "Body": "قرائت", "MessageSid": "SMforged", "NumMedia": "0"}
    assert stack.post(params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert stack.post({k: v for k, v in params.items()}, signature="").status_code == 403
    signed_elsewhere = stack.post(params, url=stack.url)  # control: the same request, signed, is accepted
    assert signed_elsewhere.status_code == 200
    tampered = dict(params, Body="لغو")
    signature = stack.sign(params)
    assert stack.post(tampered, signature=signature).status_code == 403
    other_url = stack.url.replace("/sms/twilio", "/sms/other")
    assert stack.post(params, signature=stack.sign(params, other_url)).status_code == 403
    assert requests.get(stack.url.replace("/sms/twilio", "/nope"), timeout=5).status_code == 404
    assert requests.get(stack.url, timeout=5).status_code == 405


def test_a_redelivered_webhook_is_handled_once(stack: Stack, redis_server: str) -> None:
    phone = "+989121234567"
    stack.sms(phone, "قرائت")
    first = stack.sms(phone, "1234567804121", sid="SMdup1")
    again = stack.sms(phone, "1234567804121", sid="SMdup1")
    assert first == again == [CAT.text("ask_nid", "fa")]
    assert stack.sms(phone, "0012345679")[0].startswith("کارکرد")
    stack.sms(phone, "لغو")


def test_a_double_pressed_confirm_makes_one_request(stack: Stack, twilio: TwilioStandIn) -> None:
    phone = "+989191234567"
    converse(stack, phone, "قرائت", DEMO["industrial"][1])
    before_export = len(json.loads(export(stack)))
    before_sms = len(twilio.to(phone))
    replies: list[list[str]] = []
    threads = [threading.Thread(target=lambda: replies.append(stack.sms(phone, "1"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r == [CAT.text("confirmed", "fa")] for r in replies) == 1
    wait_for_sms(twilio, phone, before_sms + 2)  # the tracking number, then the bill
    time.sleep(1.5)
    assert len(twilio.to(phone)) == before_sms + 2
    assert len(json.loads(export(stack))) == before_export + 1


def test_health_reports_redis_and_database(stack: Stack) -> None:
    body = requests.get(f"http://127.0.0.1:{stack.port}/healthz", timeout=5).json()
    assert body == {"redis": "ok", "database": "ok"}
