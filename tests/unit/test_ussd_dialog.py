"""The same dialog over USSD: a dial shows the menu or resumes the open dialog; keypad wordings; menu choices."""

from __future__ import annotations

from dialogs import StatusLookup


def ussd_t(kit, key: str, lang: str = "fa", **params) -> str:
    return kit.CAT.on("ussd").text(key, lang, **params)


def say(phone, text: str, *expected: str) -> None:
    assert phone.send(text) == list(expected), f"after {text!r}"


def reading_prompt(kit, lang: str = "fa") -> str:
    reg = kit.METERS[kit.SINGLE].registers[0]
    return kit.t("ask_reading", lang, register=kit.CAT.register("mid", lang), digits=reg.digits, last=reg.last)


def test_a_whole_report_over_the_keypad(kit):
    phone = kit.Phone(channel="ussd")
    say(phone, "", ussd_t(kit, "menu"))
    assert phone.step == "menu" and phone.answers == {}  # parked on the menu: the screen waits for a choice
    say(phone, "1", kit.t("ask_bill"))
    say(phone, kit.SINGLE, kit.t("ask_nid"))
    say(phone, kit.NID, reading_prompt(kit))
    say(phone, "04600", ussd_t(kit, "ask_date"))
    say(phone, "1405", ussd_t(kit, "err_date_format") + "\n" + ussd_t(kit, "ask_date"))  # the keypad wording
    say(phone, "14050901", ussd_t(kit, "ask_desc"))
    say(phone, "0", ussd_t(kit, "ask_receipt"))
    lines = f"{kit.CAT.register('mid', 'fa')} 04600"
    say(phone, "0", kit.t("summary", bill=kit.SINGLE, nid4=kit.NID[-4:], readings=lines, date="1405/09/01"))
    say(phone, "1", ussd_t(kit, "confirmed"))
    [request] = phone.finished()
    assert request["reading_date"] == "2026-11-22" and request["readings"] == {"mid": "04600"}
    assert phone.session is None


def test_menu_3_switches_the_language_for_the_rest(kit):
    phone = kit.Phone(channel="ussd")
    phone.send("")
    say(phone, "3", ussd_t(kit, "menu", "en"))
    say(phone, "1", kit.t("ask_bill", "en"))
    assert phone.session.language == "en"
    say(phone, "", kit.t("ask_bill", "en"))  # dialled again: the same step, in the chosen language


def test_menu_2_follows_the_phones_requests(kit):
    rows = [{"tracking_number": kit.TRACKING, "status": "received", "updated_jalali": "1405/09/05"}]
    phone = kit.Phone(channel="ussd", statuses={"*" + "+989121234567": rows})
    phone.send("")
    line = kit.t("status", tracking=kit.TRACKING, status=kit.CAT.status("received", "fa"), date="1405/09/05")
    say(phone, "2", kit.t("status_list", lines=line))
    assert phone.queries == [StatusLookup(phone.sender, None, "fa")] and phone.session is None


def test_a_dropped_session_resumes_at_the_same_step(kit):
    phone = kit.Phone(channel="ussd")
    for text in ("", "1", kit.SINGLE, kit.NID):
        phone.send(text)
    phone.wait(5)
    say(phone, "", reading_prompt(kit))  # the subscriber dials again
    say(phone, "04600", ussd_t(kit, "ask_date"))


def test_a_dialog_begun_by_sms_goes_on_by_ussd_and_back(kit):
    phone = kit.Phone()
    for text in ("قرائت", kit.SINGLE):
        phone.send(text)
    phone.channel = "ussd"
    say(phone, "", kit.t("ask_nid"))
    say(phone, kit.NID, reading_prompt(kit))
    phone.channel = "twilio"
    say(phone, "04600", kit.t("ask_date"))  # the SMS wording again


def test_a_bill_in_the_dial_string_is_answered_already(kit):
    phone = kit.Phone(channel="ussd")
    say(phone, kit.SINGLE, kit.t("ask_nid"))
    assert phone.answers == {"bill_id": kit.SINGLE}


def test_anything_else_at_the_menu_shows_the_menu_again(kit):
    phone = kit.Phone(channel="ussd")
    say(phone, "9", ussd_t(kit, "menu"))
    say(phone, "#", ussd_t(kit, "menu"))


def test_a_parked_menu_means_nothing_to_an_sms_and_expires_quietly(kit):
    phone = kit.Phone(channel="ussd")
    phone.send("3")
    phone.channel = "twilio"
    say(phone, "1", kit.t("menu"))  # not a USSD menu choice over SMS
    phone.channel = "ussd"
    phone.send("3")
    phone.wait(kit.RULES.idle_minutes + 1)
    say(phone, "", ussd_t(kit, "menu"))  # no "your request timed out" for a menu


def test_an_expired_dialog_is_said_on_the_next_dial(kit):
    phone = kit.Phone(channel="ussd")
    for text in ("1", kit.SINGLE):
        phone.send(text)
    phone.wait(kit.RULES.idle_minutes + 1)
    say(phone, "", kit.t("expired"), ussd_t(kit, "menu"))
