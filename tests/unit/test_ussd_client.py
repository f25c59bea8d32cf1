"""The test and terminal client of the USSD channel posts exactly what Africa's Talking posts."""

from __future__ import annotations

from sms_gateway.ussd_client import UssdChannel
from sms_gateway.webhook_client import Sms

PHONE = "+989121234567"


def test_text_accumulates_every_input_of_the_session_joined_by_star() -> None:
    channel = UssdChannel("tok")
    first = channel.form(Sms(PHONE, ""))
    assert first["text"] == "" and first["serviceCode"] == "*733#" and first["phoneNumber"] == PHONE
    assert channel.replies(b"CON menu") == ["menu"] and not channel.last_ended
    second = channel.form(Sms(PHONE, "1"))
    channel.replies(b"CON bill?")
    third = channel.form(Sms(PHONE, "1234567804121"))
    assert (second["text"], third["text"]) == ("1", "1*1234567804121")
    assert first["sessionId"] == second["sessionId"] == third["sessionId"]
    assert channel.path == "/ussd/africastalking/tok" and channel.headers("u", third) == {}


def test_an_end_or_a_drop_makes_the_next_input_a_new_session() -> None:
    channel = UssdChannel("tok")
    old = channel.form(Sms(PHONE, ""))
    assert channel.replies("END ثبت شد".encode()) == ["ثبت شد"] and channel.last_ended
    new = channel.form(Sms(PHONE, ""))
    assert new["sessionId"] != old["sessionId"] and new["text"] == ""
    channel.form(Sms(PHONE, "1"))
    channel.drop(PHONE)
    assert channel.form(Sms(PHONE, "")) == {**channel.last_form, "text": ""}
    assert channel.last_form["sessionId"] not in (old["sessionId"], new["sessionId"])


def test_a_typed_code_dials_and_a_first_input_is_the_dial_strings() -> None:
    channel = UssdChannel("tok")
    dial = channel.form(Sms(PHONE, "*733*1234567804121#"))
    assert dial["serviceCode"] == "*733*1234567804121#" and dial["text"] == ""
    other = "+989351234567"
    assert channel.form(Sms(other, "1234567804121"))["text"] == "1234567804121"  # `*733*1234567804121#`, AT style
    assert channel.form(Sms(PHONE, "1"))["text"] == "1"  # each phone its own session
