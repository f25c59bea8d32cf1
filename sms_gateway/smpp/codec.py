"""Text to and from SMPP short messages: GSM 7-bit and UCS2, concatenation by UDH or SAR; pure functions."""

from __future__ import annotations

from dataclasses import dataclass

GSM_DEFAULT, LATIN1, UCS2 = 0, 3, 8
UDHI = 0x40  # esm_class: short_message starts with a user data header
RECEIPT = 0x04  # esm_class: an SMSC delivery receipt
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# 3GPP TS 23.038 default alphabet (0x1B escapes to the extension table), one septet per octet as SMPP sends it.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_GSM_CODE = {ch: bytes([i]) for i, ch in enumerate(GSM_BASIC) if i != 0x1B}
_GSM_CODE.update({ch: bytes([0x1B, code]) for code, ch in GSM_EXTENSION.items()})


@dataclass(frozen=True)
class Part:
    """One received short message: its text bytes and, when it is one part of several, where it belongs."""

    payload: bytes
    ref: int = 0
    total: int = 1
    seq: int = 1


def gsm_decode(data: bytes) -> str:
    """GSM 7-bit unpacked (one septet per octet); an unknown escape is read as a space, as handsets do."""
    out, escape = [], False
    for octet in data:
        if escape:
            out.append(GSM_EXTENSION.get(octet & 0x7F, " "))
            escape = False
        elif octet & 0x7F == 0x1B:
            escape = True
        else:
            out.append(GSM_BASIC[octet & 0x7F])
    return "".join(out)


def gsm_encode(text: str) -> list[bytes] | None:
    """Each character as its GSM code (1 or 2 octets, kept together), or None when one is not in the alphabet."""
    try:
        return [_GSM_CODE[ch] for ch in text]
    except KeyError:
        return None


def decode(data_coding: int, data: bytes) -> str:
    """A short message's text by its data_coding: 0 GSM 7-bit, 8 UCS2 (Persian), 1 ASCII, 3 Latin-1."""
    if data_coding == UCS2:
        return data[: len(data) // 2 * 2].decode("utf-16-be", errors="replace")
    if data_coding == GSM_DEFAULT:
        return gsm_decode(data)
    return data.decode("ascii" if data_coding == 1 else "latin-1", errors="replace")


def parse_udh(message: bytes) -> Part:
    """Split a user data header off: concatenation by 8-bit (IEI 0) or 16-bit (IEI 8) reference."""
    length = message[0] if message else 0
    header, payload = message[1 : 1 + length], message[1 + length :]
    i = 0
    while i + 1 < len(header):
        iei, size = header[i], header[i + 1]
        data = header[i + 2 : i + 2 + size]
        if iei == 0x00 and size == 3 and len(data) == 3:
            return Part(payload, data[0], data[1], data[2])
        if iei == 0x08 and size == 4 and len(data) == 4:
            return Part(payload, int.from_bytes(data[:2], "big"), data[2], data[3])
        i += 2 + size
    return Part(payload)


def units(text: str) -> tuple[int, list[bytes]]:
    """The data_coding and the text's indivisible units: GSM codes when all fit, else UCS2 (surrogates kept whole)."""
    gsm = gsm_encode(text)
    if gsm is not None:
        return GSM_DEFAULT, gsm
    return UCS2, [ch.encode("utf-16-be") for ch in text]


def split(text: str, ref: int) -> tuple[int, int, list[bytes]]:
    """(data_coding, esm_class, short messages): one when it fits (160 GSM / 70 UCS2), else UDH-joined parts."""
    coding, pieces = units(text)
    single, per_part, unit = (GSM_SINGLE, GSM_PART, 1) if coding == GSM_DEFAULT else (UCS2_SINGLE, UCS2_PART, 2)
    if sum(len(p) for p in pieces) <= single * unit:
        return coding, 0, [b"".join(pieces)]
    chunks: list[bytes] = []
    current = b""
    for piece in pieces:
        if len(current) + len(piece) > per_part * unit:
            chunks.append(current)
            current = b""
        current += piece
    chunks.append(current)
    if len(chunks) > 255:
        raise ValueError(f"message too long for one concatenated SMS: {len(chunks)} parts")
    header = bytes([5, 0, 3, ref & 0xFF, len(chunks)])
    return coding, UDHI, [header + bytes([i + 1]) + chunk for i, chunk in enumerate(chunks)]
