"""SMPP text coding: GSM 7-bit and UCS2 both ways, concatenation limits (160/153, 70/67), UDH parsing, receipts."""

from __future__ import annotations

import pytest

from sms_gateway.smpp import codec
from sms_gateway.smpp.receipts import parse, status_of


def joined(parts: list[bytes], coding: int) -> str:
    return "".join(codec.decode(coding, codec.parse_udh(p).payload) for p in parts)


def test_gsm_decodes_the_default_alphabet_and_its_extension() -> None:
    assert codec.decode(0, b"READ 0912") == "READ 0912"
    assert codec.decode(0, bytes([0x00, 0x01, 0x1B, 0x65, 0x1B, 0x3C])) == "@£€["


def test_ucs2_decodes_persian_and_survives_an_odd_length() -> None:
    assert codec.decode(8, "قرائت ۱۲۳".encode("utf-16-be")) == "قرائت ۱۲۳"
    assert codec.decode(8, "کد".encode("utf-16-be") + b"\x06") == "کد"


@pytest.mark.parametrize(
    ("text", "coding", "parts"),
    [
        ("a" * 160, 0, 1),
        ("a" * 161, 0, 2),
        ("a" * 306, 0, 2),
        ("a" * 307, 0, 3),
        ("ش" * 70, 8, 1),
        ("ش" * 71, 8, 2),
        ("ش" * 134, 8, 2),
        ("ش" * 135, 8, 3),
    ],
)
def test_split_limits(text: str, coding: int, parts: int) -> None:
    got_coding, esm, messages = codec.split(text, ref=9)
    assert (got_coding, len(messages)) == (coding, parts)
    assert esm == (codec.UDHI if parts > 1 else 0)
    assert joined(messages, coding) == text if parts > 1 else codec.decode(coding, messages[0]) == text


def test_parts_carry_one_reference_and_their_order() -> None:
    _, _, messages = codec.split("ب" * 150, ref=300)
    assert [codec.parse_udh(m) for m in messages][1].seq == 2
    assert {(codec.parse_udh(m).ref, codec.parse_udh(m).total) for m in messages} == {(300 & 0xFF, 3)}
    assert all(len(m) <= 140 for m in messages)


def test_an_escaped_gsm_character_is_never_cut_between_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10
    _, _, messages = codec.split(text, ref=1)
    assert len(messages[0]) - 6 == 152 and joined(messages, 0) == text


def test_a_character_outside_gsm_makes_the_whole_text_ucs2() -> None:
    assert codec.split("Bill 1234 پرداخت", ref=1)[0] == codec.UCS2


def test_udh_with_a_16_bit_reference_and_other_elements() -> None:
    header = bytes([9, 0x24, 1, 0x00, 0x08, 4, 0x01, 0x02, 3, 2])  # a national-language element first
    assert codec.parse_udh(header + b"hi") == codec.Part(b"hi", 0x0102, 3, 2)
    assert codec.parse_udh(bytes([0]) + b"x") == codec.Part(b"x")


def test_receipts_are_read_from_the_text_or_the_tlvs() -> None:
    text = "id:abc123 sub:001 dlvrd:001 submit date:2611290900 done date:2611290901 stat:DELIVRD err:000 text:"
    assert parse(text) == ("abc123", "DELIVRD", "000")
    assert parse("", receipted_id="x9", state=5) == ("x9", "UNDELIV", "")
    assert [status_of(s) for s in ("DELIVRD", "UNDELIV", "EXPIRED", "ENROUTE")] == [
        "delivered",
        "undelivered",
        "expired",
        None,
    ]
