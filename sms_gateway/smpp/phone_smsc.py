"""`kontor phone --channel smpp`: this terminal plays the SMSC, on loopback, that `kontor smpp` binds to.

smpp34's server (the SMPP 3.4 engine the tests' simulator also runs) frames the PDUs and answers bind,
enquire_link and unbind; here a typed line becomes deliver_sm parts (Kontor's codec: GSM 7-bit where every
character fits, else UCS2, UDH-joined parts), each submit_sm is accepted, its parts joined and shown, and a
delivery receipt goes back as an SMSC sends one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import smpp34

from sms_gateway.smpp import codec

DELIVER_SECONDS = 30.0  # a typed line Kontor has not acknowledged by then is reported, not delivered forever


@dataclass(frozen=True)
class Mt:
    """An SMS Kontor sent, its parts joined: what a handset shows."""

    to: str
    text: str
    parts: int


def mo_parts(sender: str, to: str, text: str, ref: int) -> list[dict[str, Any]]:
    """A typed line as the deliver_sm fields of each of its parts, as an SMSC delivers a handset's SMS."""
    coding, esm, parts = codec.split(text, ref)
    number = {"source_addr": sender.lstrip("+"), "source_addr_ton": 1, "source_addr_npi": 1, "destination_addr": to}
    return [{**number, "data_coding": coding, "esm_class": esm, "short_message": part} for part in parts]


class Joiner:
    """Submitted parts joined by (number, concatenation reference) into whole SMS."""

    def __init__(self) -> None:
        self.waiting: dict[tuple[str, int], dict[int, bytes]] = {}

    def add(self, to: str, data_coding: int, esm_class: int, message: bytes) -> Mt | None:
        """The whole SMS once this part completes it (a part submitted again just replaces itself)."""
        part = codec.parse_udh(message) if esm_class & codec.UDHI else codec.Part(message)
        if part.total <= 1:
            return Mt(to, codec.decode(data_coding, part.payload), 1)
        parts = self.waiting.setdefault((to, part.ref), {})
        parts[part.seq] = part.payload
        if len(parts) < part.total:
            return None
        del self.waiting[(to, part.ref)]
        return Mt(to, codec.decode(data_coding, b"".join(parts[i] for i in sorted(parts))), part.total)


def receipt(to: str, source: str, message_id: str) -> dict[str, Any]:
    """The deliver_sm of a delivery receipt, in the `id:… stat:DELIVRD` text Kontor reads (smpp/receipts.py)."""
    now = time.strftime("%y%m%d%H%M")
    text = f"id:{message_id} sub:001 dlvrd:001 submit date:{now} done date:{now} stat:DELIVRD err:000"
    return {"source_addr": to, "destination_addr": source, "esm_class": codec.RECEIPT, "short_message": text.encode()}


class PhoneSmsc:
    """The SMSC in a thread of its own (asyncio): `start()`, `send()` typed lines, `stop()`; MT go to `on_sms`."""

    def __init__(self, host: str, port: int, on_sms: Callable[[Mt], None], receipts: bool = True) -> None:
        self.host, self.port, self.on_sms, self.receipts = host, port, on_sms, receipts
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="phone-smsc", daemon=True)
        self.esmes: dict[str, smpp34.Esme] = {}
        self.joiner = Joiner()
        self.ids = itertools.count(1)
        self.server: smpp34.Server | None = None

    def start(self) -> PhoneSmsc:
        self.thread.start()
        try:
            self._call(self._start(), 10)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop listening, drop every bind and what is still being delivered, end the thread."""
        if self.thread.is_alive():
            self._call(self._stop(), 10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    def bound(self) -> bool:
        return any(e.can_receive for e in list(self.esmes.values()))

    def wait_bound(self, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
        """Whether `kontor smpp` is bound, waiting up to `timeout` (less if `alive` says the binder is gone)."""
        deadline = time.monotonic() + timeout
        while not self.bound() and time.monotonic() < deadline and alive():
            time.sleep(0.1)
        return self.bound()

    def send(self, sender: str, to: str, text: str, timeout: float = DELIVER_SECONDS) -> None:
        """Deliver a typed line, each part again until Kontor acknowledges it OK; TimeoutError when it never does."""
        for fields in mo_parts(sender, to, text, random.randrange(256)):
            self._call(self._deliver(fields, timeout), timeout + 5)

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.server = smpp34.Server(host=self.host, port=self.port, system_id="KONTORPHONE")
        await self.server.start()
        asyncio.ensure_future(self._serve(self.server))

    async def _stop(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.stop()
        self.server = None
        self.esmes.clear()

    async def _serve(self, server: smpp34.Server) -> None:
        while True:
            ev = await server.next()
            if isinstance(ev, smpp34.Esme):
                self.esmes[ev.session_id] = ev
            elif isinstance(ev, smpp34.Unbound):
                self.esmes.pop(ev.session_id, None)
            elif isinstance(ev, smpp34.SubmitSmEvent):
                self._submitted(ev)

    def _submitted(self, ev: smpp34.SubmitSmEvent) -> None:
        """Accept the part; show the SMS once whole; a receipt for the part, as the SMSC delivers it."""
        message_id = f"phone{next(self.ids)}"
        ev.accept(message_id=message_id)
        mt = self.joiner.add(ev.destination_addr, ev.data_coding, ev.esm_class, ev.short_message)
        if mt is not None:
            self.on_sms(mt)
        if self.receipts and ev.registered_delivery:
            fields = receipt(ev.destination_addr, ev.source_addr, message_id)
            asyncio.ensure_future(self._quietly(self._deliver(fields, DELIVER_SECONDS)))

    async def _quietly(self, delivery: Coroutine[Any, Any, None]) -> None:
        with contextlib.suppress(TimeoutError):
            await delivery

    async def _deliver(self, fields: dict[str, Any], timeout: float) -> None:
        """deliver_sm again until an ESME answers OK, as an SMSC redelivers what was not acknowledged."""
        deadline, status = time.monotonic() + timeout, "no bind"
        while time.monotonic() < deadline:
            esme = next((e for e in list(self.esmes.values()) if e.can_receive), None)
            if esme is not None:
                try:
                    resp = await esme.deliver_sm(**fields)
                    if resp.is_success:
                        return
                    status = f"command_status 0x{resp.command_status:08x}"
                except smpp34.SmppError as exc:
                    status = str(exc)
            await asyncio.sleep(0.3)
        raise TimeoutError(f"Kontor did not acknowledge the deliver_sm ({status})")
