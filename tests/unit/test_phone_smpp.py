"""`kontor phone --channel smpp`, its pure pieces: a typed line as deliver_sm parts, submitted parts joined back,
the receipt Kontor reads, the config its own `kontor smpp` binds with, which SMSC it may play, the command line.
The parts are checked against the tests' simulator coding (tests/support/smsc_text.py), not Kontor's codec."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from sms_gateway import cli
from sms_gateway.phone import CHANNELS, show_sms, watches_outbox
from sms_gateway.settings import load
from sms_gateway.smpp.phone_line import child_config, is_loopback, open_line
from sms_gateway.smpp.phone_smsc import Joiner, Mt, mo_parts, receipt
from sms_gateway.smpp.receipts import parse
from tests.support import smsc_text
from tests.unit.test_settings import load_with

PERSIAN = "کارکرد میان‌باری را بفرستید (5 رقم). قبلی: 04512 — کنتور در حیاط است"


def as_submits(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Phone-made deliver_sm parts in the simulator's shape, so its own joiner reads them."""
    return [{**p, "id": str(i), "destination_addr": p["source_addr"]} for i, p in enumerate(parts)]


@pytest.mark.parametrize(
    ("text", "coding", "count"),
    [("READ", 0, 1), ("a" * 160, 0, 1), ("a" * 161, 0, 2), ("ش" * 70, 8, 1), ("ش" * 71, 8, 2), ("ش" * 135, 8, 3)],
)
def test_a_typed_line_is_gsm_where_it_fits_else_ucs2_in_joined_parts(text: str, coding: int, count: int) -> None:
    parts = mo_parts("+989121234567", "3000", text, ref=7)
    assert [p["data_coding"] for p in parts] == [coding] * count
    assert {(p["source_addr"], p["destination_addr"], p["source_addr_ton"]) for p in parts} == {
        ("989121234567", "3000", 1)
    }
    (joined,) = smsc_text.join(as_submits(parts))
    assert (joined.text, joined.parts, joined.data_coding) == (text, count, coding)


def test_a_long_persian_line_goes_in_udh_parts_of_67_characters() -> None:
    text = PERSIAN * 3  # 204 characters: 67 + 67 + 67 + 3
    parts = mo_parts("+989121234567", "3000", text, ref=200)
    assert all(p["esm_class"] == 0x40 for p in parts)
    assert [p["short_message"][:6] for p in parts] == [bytes([5, 0, 3, 200, 4, i + 1]) for i in range(4)]
    assert [len(p["short_message"]) - 6 for p in parts] == [134, 134, 134, 6]
    assert smsc_text.join(as_submits(parts))[0].text == text


def test_submitted_parts_show_once_whole_in_order_whatever_order_they_come() -> None:
    _, parts = smsc_text.mo_parts(PERSIAN * 2, 30, udh16=False, sar=False, ref=9)
    joiner, shown = Joiner(), []
    for part in reversed(parts):
        mt = joiner.add("989121234567", 8, part["esm_class"], part["short_message"])
        shown.append(mt)
    assert shown[:-1] == [None] * (len(parts) - 1)
    assert shown[-1] == Mt("989121234567", PERSIAN * 2, len(parts))
    assert not joiner.waiting


def test_a_resubmitted_part_replaces_itself_and_a_single_sms_shows_at_once() -> None:
    _, parts = smsc_text.mo_parts("ش" * 100, 50, udh16=False, sar=False, ref=3)
    joiner = Joiner()
    assert joiner.add("98912", 8, 0x40, parts[0]["short_message"]) is None
    assert joiner.add("98912", 8, 0x40, parts[0]["short_message"]) is None  # at least once: the same part again
    assert joiner.add("98912", 8, 0x40, parts[1]["short_message"]) == Mt("98912", "ش" * 100, 2)
    assert joiner.add("98912", 0, 0, b"Sent. Tracking 1") == Mt("98912", "Sent. Tracking 1", 1)


def test_the_receipt_is_one_kontor_reads_as_delivered() -> None:
    fields = receipt("989121234567", "3000", "phone7")
    assert fields["esm_class"] == 0x04 and (fields["source_addr"], fields["destination_addr"]) == (
        "989121234567",
        "3000",
    )
    assert parse(fields["short_message"].decode()) == ("phone7", "DELIVRD", "000")


def test_its_own_kontor_smpp_binds_to_the_phone_with_the_same_data_and_stores(tmp_path: Path) -> None:
    settings = load_with(tmp_path)
    path = child_config(settings, 40123)
    child = load(path, environ={})
    assert child.smpp is not None and child.smpp.enabled
    assert (child.smpp.host, child.smpp.port, child.smpp.source_addr) == ("127.0.0.1", 40123, "3000")
    assert (child.data_dir, child.redis_url, child.database_url) == (
        settings.data_dir,
        settings.redis_url,
        settings.database_url,
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    without_section = child_config(load_with(tmp_path, lambda c: c.pop("smpp")), 40124)
    assert load(without_section, environ={}).smpp is not None


def test_a_real_smsc_is_never_played(tmp_path: Path) -> None:
    settings = load_with(tmp_path, lambda c: c["smpp"].update(host="smsc.example.ir", password="pw"))
    with pytest.raises(ValueError, match="loopback"):
        open_line(settings, lambda mt: None)
    assert [
        h for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2", "10.0.0.1", "smsc.example.ir") if is_loopback(h)
    ] == [
        "127.0.0.1",
        "localhost",
        "::1",
        "127.0.0.2",
    ]


def test_the_outbox_is_not_watched_when_its_sms_come_by_smpp_too(tmp_path: Path) -> None:
    outbox = load_with(tmp_path)
    smpp = load_with(tmp_path, lambda c: c["outbound"].update(gateway="smpp"))
    assert watches_outbox(outbox, "smpp") and watches_outbox(smpp, "twilio") and not watches_outbox(smpp, "smpp")


def test_kontor_phone_help_lists_every_channel(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["phone", "--help"])
    shown = capsys.readouterr().out
    assert "{" + ",".join(CHANNELS) + "}" in shown and "smpp" in CHANNELS


def test_an_sms_to_this_phone_and_one_to_another_number(capsys: pytest.CaptureFixture[str]) -> None:
    show_sms("+989121234567", "989121234567", "ثبت شد")
    show_sms("+989121234567", "989351234567", "رهگیری")
    assert capsys.readouterr().out == "\n📩 SMS: ثبت شد\n> \n📩 SMS to +989351234567: رهگیری\n> "
