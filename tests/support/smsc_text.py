"""The simulator's own text coding (apart from Kontor's codec, so a test never checks the codec against itself):
a phone's message as deliver_sm parts, and submitted parts joined back into the text a phone shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import smpp34
from smpplib.gsm import GSM_CHARACTER_TABLE, gsm_encode

SAR_MSG_REF_NUM, SAR_TOTAL_SEGMENTS, SAR_SEGMENT_SEQNUM = 0x020C, 0x020E, 0x020F  # SMPP 3.4 TLV tags
ESME_RSYSERR, ESME_RTHROTTLED = 0x08, 0x58


@dataclass
class Mt:
    """A message Kontor submitted, its parts joined."""

    to: str
    text: str
    data_coding: int
    parts: int
    ids: list[str] = field(default_factory=list)


def mt_text(data_coding: int, data: bytes) -> str:
    if data_coding == 8:
        return data.decode("utf-16-be")
    out, escape = [], False
    for octet in data:
        if octet == 0x1B:
            escape = True
            continue
        out.append(GSM_CHARACTER_TABLE[octet + (0x80 if escape else 0)])
        escape = False
    return "".join(out)


def mo_parts(text: str, per_part: int | None, udh16: bool, sar: bool, ref: int) -> tuple[int, list[dict[str, Any]]]:
    """The deliver_sm fields of each part of a phone's message: GSM 7-bit when it can be, else UCS2."""
    try:
        coding, encoded, unit = 0, gsm_encode(text), 1
    except UnicodeError:
        coding, encoded, unit = 8, text.encode("utf-16-be"), 2
    size = (per_part or len(encoded)) * unit
    chunks = [encoded[i : i + size] for i in range(0, len(encoded), size)] or [b""]
    if len(chunks) == 1:
        return coding, [{"short_message": chunks[0]}]
    total, fields = len(chunks), []
    for seq, chunk in enumerate(chunks, 1):
        if sar:
            tlvs = [
                smpp34.Tlv(SAR_MSG_REF_NUM, ref.to_bytes(2, "big")),
                smpp34.Tlv(SAR_TOTAL_SEGMENTS, bytes([total])),
                smpp34.Tlv(SAR_SEGMENT_SEQNUM, bytes([seq])),
            ]
            fields.append({"short_message": chunk, "tlvs": tlvs})
        else:
            header = bytes([6, 8, 4]) + ref.to_bytes(2, "big") if udh16 else bytes([5, 0, 3, ref & 0xFF])
            fields.append({"short_message": header + bytes([total, seq]) + chunk, "esm_class": 0x40})
    return coding, fields


def join(submits: list[dict[str, Any]]) -> list[Mt]:
    """Submitted short messages as the phone shows them: parts joined by their UDH reference, in order."""
    joined: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    out: list[Mt] = []
    for s in submits:
        data = s["short_message"]
        if not s["esm_class"] & 0x40:
            out.append(Mt(s["destination_addr"], mt_text(s["data_coding"], data), s["data_coding"], 1, [s["id"]]))
            continue
        ref, total, seq = data[3], data[4], data[5]
        parts = joined.setdefault((s["destination_addr"], ref), {})
        parts[seq] = {**s, "short_message": data[6:]}
        if len(parts) == total:
            ordered = [parts[i] for i in sorted(parts)]
            text = mt_text(s["data_coding"], b"".join(p["short_message"] for p in ordered))
            out.append(Mt(s["destination_addr"], text, s["data_coding"], total, [p["id"] for p in ordered]))
            del joined[(s["destination_addr"], ref)]
    return out
