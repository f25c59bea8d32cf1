"""An SMSC simulator for the tests: smpp34's real SMPP 3.4 server (Rust, tokio) on loopback, in a thread.

It behaves as an SMSC does towards Kontor: it delivers MO messages (deliver_sm) and delivers each again, with a
new sequence number, until Kontor answers deliver_sm_resp OK (across a dropped link too); it accepts submit_sm
(or refuses the next ones with a status given), reassembles concatenated MT parts, and sends delivery receipts.
Its encoding and reassembly are written here on purpose, independently of Kontor's codec.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import smpp34
from smpplib.gsm import GSM_CHARACTER_TABLE, gsm_encode

from tests.support.cable import Cable
from tests.support.stack import free_port

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


class Smsc:
    """Start, talk to Kontor through it (`port`), stop; `drop()` cuts the link, `down()`/`up()` refuse binds."""

    def __init__(self, system_id: str = "SIMSMSC") -> None:
        self.server_port, self.system_id = free_port(), system_id
        self.cable: Cable | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="smsc", daemon=True)
        self.esmes: dict[str, smpp34.Esme] = {}
        self.submits: list[dict[str, Any]] = []
        self.refuse: list[int] = []  # command_status for the next submit_sm, one each
        self.receipts = True
        self.binds = 0
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.server: smpp34.Server | None = None
        self.serving: asyncio.Future[None] | None = None

    @property
    def port(self) -> int:
        assert self.cable is not None
        return self.cable.port

    def start(self) -> Smsc:
        self.thread.start()
        self._call(self._start())
        self.cable = Cable(self.server_port)
        return self

    def stop(self) -> None:
        if self.cable is not None:
            self.cable.close()
        self._call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def drop(self, down_seconds: float = 0.0) -> None:
        """The link breaks (every connection closed, no unbind); binds are refused for `down_seconds`."""
        self.down()
        time.sleep(down_seconds)
        self.up()

    def down(self) -> None:
        """The SMSC is unreachable: every bind dropped, new connections closed at once."""
        assert self.cable is not None
        self.cable.up = False
        self.cable.cut()
        self.esmes.clear()

    def up(self) -> None:
        assert self.cable is not None
        self.cable.up = True

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.server = smpp34.Server(host="127.0.0.1", port=self.server_port, system_id=self.system_id)
        await self.server.start()
        self.serving = asyncio.ensure_future(self._serve(self.server))

    async def _stop(self) -> None:
        if self.serving is not None:
            self.serving.cancel()
        if self.server is not None:
            await self.server.stop()
        self.server, self.serving = None, None
        self.esmes.clear()

    async def _serve(self, server: smpp34.Server) -> None:
        while True:
            ev = await server.next()
            if isinstance(ev, smpp34.Esme):
                self.esmes[ev.session_id] = ev
                self.binds += 1
            elif isinstance(ev, smpp34.Unbound):
                self.esmes.pop(ev.session_id, None)
            elif isinstance(ev, smpp34.SubmitSmEvent):
                self._submitted(ev)

    def _submitted(self, ev: smpp34.SubmitSmEvent) -> None:
        with self.lock:
            if self.refuse:
                ev.reject(self.refuse.pop(0))
                return
            message_id = f"sim{next(self.ids)}"
            self.submits.append(
                {
                    "to": ev.destination_addr,
                    "from": ev.source_addr,
                    "esm_class": ev.esm_class,
                    "data_coding": ev.data_coding,
                    "short_message": ev.short_message,
                    "id": message_id,
                }
            )
        ev.accept(message_id=message_id)
        esme = self.esmes.get(ev.session_id)
        if self.receipts and esme is not None:
            text = f"id:{message_id} sub:001 dlvrd:001 submit date:2611290900 done date:2611290900 stat:DELIVRD err:000"
            asyncio.ensure_future(
                self._deliver_until_ok(
                    {
                        "destination_addr": ev.source_addr,
                        "source_addr": ev.destination_addr,
                        "esm_class": 0x04,
                        "short_message": text.encode(),
                    },
                    30,
                )
            )

    async def _deliver_until_ok(self, fields: dict[str, Any], timeout: float) -> int:
        """deliver_sm again (new sequence number) until an ESME answers OK: an SMSC redelivers what was not acked."""
        deadline, attempts = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            esme = next((e for e in list(self.esmes.values()) if e.can_receive), None)
            if esme is not None:
                attempts += 1
                try:
                    if bool((await esme.deliver_sm(**fields)).is_success):
                        return attempts
                except smpp34.SmppError:
                    pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"deliver_sm not acknowledged after {attempts} attempts")

    def deliver(self, fields: dict[str, Any], timeout: float = 30) -> int:
        """One deliver_sm as given, repeated until acknowledged OK; returns the number of attempts."""
        attempts: int = self._call(self._deliver_until_ok(fields, timeout), timeout + 5)
        return attempts

    def mo(
        self,
        sender: str,
        text: str,
        to: str = "3000",
        per_part: int | None = None,
        udh16: bool = False,
        sar: bool = False,
        ref: int = 42,
    ) -> None:
        """A phone's message, in parts when per_part is given (UDH 8- or 16-bit reference, or SAR TLVs)."""
        coding, parts = mo_parts(text, per_part, udh16, sar, ref)
        for part in parts:
            self.deliver(
                {
                    "source_addr": sender,
                    "destination_addr": to,
                    "source_addr_ton": 1,
                    "source_addr_npi": 1,
                    "data_coding": coding,
                    **part,
                }
            )

    def messages(self, to: str | None = None) -> list[Mt]:
        """Every message submitted so far (to one number), parts joined by their UDH reference."""
        with self.lock:
            submits = [s for s in self.submits if to is None or s["to"] == to.lstrip("+")]
        joined: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
        out: list[Mt] = []
        for s in submits:
            data = s["short_message"]
            if not s["esm_class"] & 0x40:
                out.append(Mt(s["to"], mt_text(s["data_coding"], data), s["data_coding"], 1, [s["id"]]))
                continue
            ref, total, seq, body = data[3], data[4], data[5], data[6:]
            parts = joined.setdefault((s["to"], ref), {})
            parts[seq] = {**s, "short_message": body}
            if len(parts) == total:
                ordered = [parts[i] for i in sorted(parts)]
                text = mt_text(s["data_coding"], b"".join(p["short_message"] for p in ordered))
                out.append(Mt(s["to"], text, s["data_coding"], total, [p["id"] for p in ordered]))
                del joined[(s["to"], ref)]
        return out

    def wait(self, to: str, count: int, timeout: float = 20) -> list[Mt]:
        """The first `count` messages to a number, waiting for them (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"{count} messages to {to} expected, got: {[m.text for m in self.messages(to)]}")
