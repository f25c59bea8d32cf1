"""The Redis encoding of an open dialog: a round trip loses nothing, it stays small, and an old or broken one
reads as no dialog (or is migrated) instead of crashing the subscriber's next message."""

from __future__ import annotations

import json

import pytest

from dialogs import Media
from storage.codec import dump_session, load_session
from tests.unit.test_conversations import STEPS, walk_to

PHOTO = Media(
    "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/"
    "MM0123456789abcdef0123456789abcdef/Media/ME0123456789abcdef0123456789abcdef",
    "image/jpeg",
)


def stored_bytes(session) -> int:
    """As the session store writes it: compact JSON, UTF-8."""
    return len(json.dumps(dump_session(session), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@pytest.mark.parametrize("step, index", STEPS)
def test_every_step_round_trips(kit, step, index):
    phone = kit.Phone()
    walk_to(kit, phone, step, kit.INDUSTRIAL, reading_index=index)
    data = json.loads(json.dumps(dump_session(phone.session)))  # through JSON, as Redis sees it
    assert load_session(data) == phone.session


def test_a_pending_question_and_media_round_trip(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "reading")
    phone.send("04400", (PHOTO,))  # lower than the last: asks about a wrap
    assert phone.session.pending is not None and phone.session.media
    assert load_session(json.loads(json.dumps(dump_session(phone.session)))) == phone.session


def test_a_full_industrial_dialog_stays_under_one_kilobyte(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "desc", kit.INDUSTRIAL)
    phone.send("کنتور در زیرزمین است، درب از کوچه پشتی باز می‌شود", (PHOTO,))
    phone.send("", (PHOTO,))
    assert phone.step == "confirm"
    assert stored_bytes(phone.session) <= 1024


def test_a_session_of_the_old_format_is_migrated(kit):
    phone = kit.Phone()
    walk_to(kit, phone, "reading", kit.TOU, reading_index=1)
    old = {
        "v": 1,
        "id": "SM0001",
        "lang": "fa",
        "step": "reading",
        "at": "2026-11-26T10:00:00",
        "answers": {"bill_id": kit.TOU, "national_id": kit.NID, "readings": {"low": "012005"}},
        "media": [],
        "ri": 1,
        "meter": {
            "kind": "tou",
            "last_date": kit.LAST_DATE,
            "mult": 1,
            "kw": 0.0,
            "daily": 10.0,
            "regs": [["low", 6, 0, "012000"], ["mid", 6, 0, "023000"], ["peak", 6, 0, "004000"]],
        },
    }
    assert load_session(old) == phone.session


@pytest.mark.parametrize(
    "data",
    [
        {"v": 1, "step": "nid"},
        {"v": 2, "id": "x"},
        {"step": "nid", "lang": "fa"},
        {"v": 99},
        "garbage",
        [1, 2],
        {"v": 2, "id": "SM1", "l": "fa", "s": "no-such-step", "t": "2026-11-26T10:00:00"},
        {"v": 2, "id": "SM1", "l": "fa", "s": "reading", "t": "2026-11-26T10:00:00"},  # a reading with no meter
    ],
)
def test_an_unreadable_session_is_no_dialog(data):
    assert load_session(data) is None


def test_a_report_waiting_for_its_parts_and_a_ussd_menu_round_trip(kit):
    phone = kit.Phone(channel="smpp")
    phone.send("قرائت 2345678904125 0012345678 012150 023200 004060")  # the national ID is refused: the rest waits
    assert phone.session.queued == ["012150", "023200", "004060"] and phone.session.quick
    assert load_session(json.loads(json.dumps(dump_session(phone.session)))) == phone.session
    menu = kit.Phone(channel="ussd")
    menu.send("3")
    assert menu.step == "menu" and load_session(dump_session(menu.session)) == menu.session
