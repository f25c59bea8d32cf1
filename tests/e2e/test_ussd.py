"""The USSD menu over real processes: an aggregator's callbacks (text accumulated as Africa's Talking does) into
gunicorn, the same Redis dialog as SMS, the RQ worker, and the tracking number sent by the outbound gateway."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from adapters import clock
from dialogs.jalali import to_jalali_str
from sms_gateway.runtime import catalogue
from sms_gateway.ussd_client import UssdChannel
from sms_gateway.webhook_client import Sms, WebhookClient
from tests.support.stack import AUTH_TOKEN, Stack, free_port, write_config
from tests.support.twilio_standin import TwilioStandIn

CAT = catalogue()
USSD = CAT.on("ussd")
TOKEN = "e2e-ussd-token"
DAY_4 = to_jalali_str(clock.tehran_today() - timedelta(days=4)).replace("/", "")  # typed as 8 digits
# The demo subscribers of the README, answered on a keypad: dates as 8 digits, descriptions as 0, no decimal point.
DEMO = {
    "single": ("+989121234567", ["1234567804121", "0012345679", "04620", "0", "0", "0"], {"mid": "04620"}),
    "tou": (
        "+989351234567",
        ["2345678904125", "2277889903", "012100", "023150", "004050", DAY_4, "0", "987654"],
        {"low": "012100", "mid": "023150", "peak": "004050"},
    ),
    "industrial": (
        "+989191234567",
        ["3456789004123", "4455667717", "100400", "201000", "050300", "080100", "010050", "118", DAY_4, "0", "0"],
        {"low": "100400", "mid": "201000", "peak": "050300", "reactive": "080100", "friday": "010050", "demand": "118"},
    ),
}


@pytest.fixture(scope="module")
def ussd_stack(redis_server: str, twilio: TwilioStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("ussd")
    redis.Redis.from_url(redis_server).flushall()
    port = free_port()
    config = write_config(
        folder, redis_server, f"sqlite:///{folder / 'kontor.db'}", twilio.url, port, ussd__token=TOKEN
    )
    running = Stack(config, port, AUTH_TOKEN).start()
    yield running
    running.stop()


class Handset:
    """One aggregator in front of the running Kontor: every screen is one callback with the inputs so far."""

    def __init__(self, stack: Stack) -> None:
        self.channel = UssdChannel(TOKEN)
        self.client = WebhookClient.local(self.channel, stack.port)

    def press(self, phone: str, text: str) -> str:
        [screen] = self.client.send(Sms(phone, text))
        return ("END " if self.channel.last_ended else "CON ") + screen


def wait_for_sms(twilio: TwilioStandIn, phone: str, count: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(twilio.to(phone)) >= count:
            return twilio.to(phone)
        time.sleep(0.05)
    raise AssertionError(f"no SMS #{count} to {phone}; got {twilio.to(phone)}")


def test_each_demo_subscriber_reports_by_ussd_and_gets_the_tracking_number_by_sms(
    ussd_stack: Stack, twilio: TwilioStandIn
) -> None:
    handset = Handset(ussd_stack)
    for name, (phone, answers, readings) in DEMO.items():
        before = len(twilio.to(phone))
        assert handset.press(phone, "") == "CON " + USSD.text("menu", "fa"), name
        assert handset.press(phone, "1") == "CON " + CAT.text("ask_bill", "fa"), name
        for answer in answers:
            screen = handset.press(phone, answer)
            assert screen.startswith("CON "), (name, answer, screen)
        assert "۱=تایید" in screen and len(screen) - 4 <= 182, (name, screen)
        for register, value in readings.items():
            assert f"{CAT.register(register, 'fa')} {value}" in screen, (name, register)
        assert handset.press(phone, "1") == "END " + USSD.text("confirmed", "fa"), name
        tracking_sms = wait_for_sms(twilio, phone, before + 1)[before]
        tracking = re.search(r"\d{12}", tracking_sms).group(0)
        assert tracking_sms == CAT.text("tracking_sms", "fa", tracking=tracking), name
        handset.press(phone, "")  # INQUIRE is menu 2: the request is there
        status = handset.press(phone, "2")
        assert status.startswith("END ") and tracking in status, (name, status)


def test_a_dropped_session_resumes_when_dialled_again(ussd_stack: Stack) -> None:
    handset, phone = Handset(ussd_stack), "+989941234567"  # 0994: a range phonenumbers may not know
    handset.press(phone, "")
    handset.press(phone, "3")  # English
    handset.press(phone, "1")
    assert handset.press(phone, "1234567804121") == "CON " + CAT.text("ask_nid", "en")
    handset.channel.drop(phone)  # a call came in: the aggregator's session is gone
    assert handset.press(phone, "") == "CON " + CAT.text("ask_nid", "en")  # dialled again: the same step
    assert handset.press(phone, "0012345679").startswith("CON Send the mid-load reading")


def test_a_resent_callback_is_applied_once(ussd_stack: Stack) -> None:
    handset, phone = Handset(ussd_stack), "+989981234567"
    for text in ("", "1", "1234567804121"):
        handset.press(phone, text)
    screen = handset.press(phone, "0012345679")
    resent = handset.client.post(handset.channel.last_form)  # the aggregator did not get our answer in time
    assert resent.status_code == 200 and resent.text == screen
    assert handset.press(phone, "04620") == "CON " + USSD.text("ask_date", "fa")  # the reading step, once
