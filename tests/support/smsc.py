"""An SMSC simulator for the tests: smpp34's real SMPP 3.4 server (Rust, tokio) on loopback, in a thread.

It behaves as an SMSC does towards Kontor: it delivers MO messages (deliver_sm) and delivers each again, with a
new sequence number, until Kontor answers deliver_sm_resp OK (across a dropped link too); it accepts submit_sm
(or refuses the next ones with a status given), reassembles concatenated MT parts, and sends delivery receipts.
Its encoding and reassembly are written here on purpose, independently of Kontor's codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Coroutine
from typing import Any

import redis
import smpp34

from adapters.senders.smpp import INFLIGHT, QUEUE
from tests.support.cable import Cable
from tests.support.smsc_text import ESME_RSYSERR, ESME_RTHROTTLED, Mt, join, mo_parts
from tests.support.stack import free_port

__all__ = ["ESME_RSYSERR", "ESME_RTHROTTLED", "Mt", "Smsc", "account", "settle"]


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
        self._call(self._cancel_pending())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _cancel_pending(self) -> None:
        """Receipts still being delivered when the test ends are dropped, as a stopped SMSC drops them."""
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

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
            fields = (
                "destination_addr",
                "source_addr",
                "esm_class",
                "data_coding",
                "short_message",
                "registered_delivery",
            )
            self.submits.append({"id": message_id, **{name: getattr(ev, name) for name in fields}})
        ev.accept(message_id=message_id)
        if self.receipts and ev.session_id in self.esmes:
            asyncio.ensure_future(self._send_receipt(receipt(ev, message_id)))

    async def _send_receipt(self, fields: dict[str, Any]) -> None:
        """A receipt nobody acknowledged in time is given up, as an SMSC gives up after its retries."""
        with contextlib.suppress(TimeoutError):
            await self._deliver_until_ok(fields, 30)

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
            submits = [s for s in self.submits if to is None or s["destination_addr"] == to.lstrip("+")]
        return join(submits)

    def wait_bound(self, timeout: float) -> bool:
        """Whether an ESME is bound, waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        while not self.esmes and time.monotonic() < deadline:
            time.sleep(0.1)
        return bool(self.esmes)

    def wait(self, to: str, count: int, timeout: float = 20) -> list[Mt]:
        """The first `count` messages to a number, waiting for them (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"{count} messages to {to} expected, got: {[m.text for m in self.messages(to)]}")


def receipt(ev: smpp34.SubmitSmEvent, message_id: str) -> dict[str, Any]:
    """The deliver_sm of a delivery receipt for a submitted message, in the usual text form."""
    text = f"id:{message_id} sub:001 dlvrd:001 submit date:2611290900 done date:2611290900 stat:DELIVRD err:000"
    return {
        "destination_addr": ev.source_addr,
        "source_addr": ev.destination_addr,
        "esm_class": 0x04,
        "short_message": text.encode(),
    }


def settle(redis_url: str, timeout: float = 10) -> None:
    """Wait until `kontor smpp` has every answer to its submits (nothing queued or in flight): a link cut before
    that makes it submit again what the SMSC already took, a duplicate SMPP cannot rule out."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while (client.llen(QUEUE) or client.llen(INFLIGHT)) and time.monotonic() < deadline:
        time.sleep(0.05)
    client.close()


def account(smsc: Smsc, **more: object) -> dict[str, object]:
    """write_config overrides that point Kontor's smpp section at this simulator, with short test timers."""
    return {
        "smpp__host": "127.0.0.1",
        "smpp__port": smsc.port,
        "smpp__system_id": "kontor",
        "smpp__password": "secret",
        "smpp__source_addr": "3000",
        "smpp__per_second": 50,
        "smpp__enquire_link_seconds": 1,
        "smpp__response_seconds": 3,
        **more,
    }
