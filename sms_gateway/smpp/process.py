"""`kontor smpp`: keep one transceiver bind up, answer the SMSC, drain the outbound queue; unbind on SIGTERM.

One loop, one thread: it reads a PDU when one is there (a deliver_sm is handled before its deliver_sm_resp is
sent), then submits what the window and the rate allow, then keeps the link alive. Any link error reconnects
with doubling backoff; what was in flight goes back to the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from sms_gateway.runtime import Services
from sms_gateway.settings import Smpp
from sms_gateway.smpp import inbound, receipts
from sms_gateway.smpp.link import LINK_ERRORS, Link, LinkDown
from sms_gateway.smpp.outbound import Outbound

log = logging.getLogger("kontor.smpp")
TICK = 0.05  # the longest the loop sleeps waiting for a PDU when it has nothing to send
# Redis or SQL down: drop the link too (the SMSC keeps what we did not acknowledge) and come back with backoff.
STORE_ERRORS = (redis.RedisError, SQLAlchemyError)


def run(services: Services, stop: threading.Event) -> None:
    """Bind, serve, and on any link failure reconnect with backoff, until `stop` is set; receipts on the side."""
    cfg = services.settings.smpp
    if cfg is None or not cfg.enabled:
        raise ValueError("the smpp section is off: set smpp.host and smpp.password")
    applier = threading.Thread(target=receipts.apply_forever, args=(services, stop), name="receipts", daemon=True)
    applier.start()
    try:
        _bind_loop(services, cfg, stop)
    finally:
        stop.set()
        applier.join(10)


def _bind_loop(services: Services, cfg: Smpp, stop: threading.Event) -> None:
    """One bind after another, with doubling backoff between failures."""
    outbound, delay = Outbound(services.redis, cfg), 1.0
    while not stop.is_set():
        link = Link(cfg)
        try:
            outbound.recover()  # what a previous link (or process) left in flight goes first
            link.open()
            log.info("bound to %s:%s as %s", cfg.host, cfg.port, cfg.system_id)
            delay = 1.0
            Session(services, link, outbound, cfg).serve(stop)
        except (*LINK_ERRORS, LinkDown, *STORE_ERRORS) as exc:
            log.warning("SMPP link to %s:%s lost: %r; again in %.0fs", cfg.host, cfg.port, exc, delay)
        finally:
            link.close(unbind=stop.is_set())
            _recover(outbound)
        if not stop.is_set():
            stop.wait(delay)
            delay = min(delay * 2, cfg.reconnect_max_seconds)


def _recover(outbound: Outbound) -> None:
    """Put in-flight SMS back now if Redis answers; else the next bind does it."""
    try:
        outbound.recover()
    except redis.RedisError as exc:
        log.warning("in-flight SMS stay in flight until Redis answers: %s", exc)


class Session:
    """One bound link: its keep-alive clock and the dispatch of what the SMSC sends."""

    def __init__(self, services: Services, link: Link, outbound: Outbound, cfg: Smpp) -> None:
        self.services, self.link, self.outbound, self.cfg = services, link, outbound, cfg
        self.last_heard = time.monotonic()
        self.enquiry_sent: float | None = None

    def serve(self, stop: threading.Event) -> None:
        while not stop.is_set():
            pdu = self.link.read(self.outbound.idle_seconds(TICK))
            if pdu is not None:
                self.last_heard = time.monotonic()
                self.dispatch(pdu)
            self.submit()
            self.keep_alive()

    def dispatch(self, pdu: Any) -> None:
        """Act on one PDU from the SMSC."""
        command = pdu.command
        if command == "deliver_sm":
            status, after = inbound.receive(self.services, pdu)
            self.link.respond(pdu, status)
            after()
        elif command in ("submit_sm_resp", "generic_nack"):
            smsc_id = inbound.text_of(getattr(pdu, "message_id", b""))  # any bytes: never a loop of resubmits
            self.outbound.answered(
                pdu.sequence, int(pdu.status or 0) or (0x08 if command == "generic_nack" else 0), smsc_id
            )
        elif command == "enquire_link":
            self.link.respond(pdu)
        elif command == "enquire_link_resp":
            self.enquiry_sent = None
        elif command == "unbind":
            self.link.respond(pdu)
            raise LinkDown("the SMSC unbound")
        else:
            log.info("ignored %s from the SMSC", command)

    def submit(self) -> None:
        """Every part the window and the rate allow now."""
        for _ in range(self.cfg.window):
            submit = self.outbound.next()
            if submit is None:
                return
            self.outbound.sent(self.link.submit(submit), submit)

    def keep_alive(self) -> None:
        """enquire_link when the link is idle; no answer (or a submit unanswered) in time means it is dead."""
        now = time.monotonic()
        if self.outbound.overdue() or (self.enquiry_sent and now - self.enquiry_sent > self.cfg.response_seconds):
            raise LinkDown("the SMSC stopped answering")
        if self.enquiry_sent is None and now - self.last_heard >= self.cfg.enquire_link_seconds:
            self.link.enquire()
            self.enquiry_sent = now
