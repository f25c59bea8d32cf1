"""The bind itself, on smpplib's PDUs and socket: bind_transceiver, read one PDU when there is one, answer, unbind.

smpplib is used below its own listen loop: Kontor decides when deliver_sm_resp is sent (after the message was
handled), keeps its own window of submit_sm, and reconnects by itself.
"""

from __future__ import annotations

import logging
import select
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from sms_gateway.settings import Smpp
from sms_gateway.smpp.outbound import Submit

log = logging.getLogger("kontor.smpp")
# Everything that means "this link is gone": the caller reconnects with backoff.
LINK_ERRORS = (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError, ValueError)
DELIVERY_RECEIPT = 1  # registered_delivery: a receipt on final success or failure


class LinkDown(Exception):
    """The SMSC unbound, or stopped answering: reconnect."""


class Link:
    """One TCP connection bound as a transceiver."""

    def __init__(self, cfg: Smpp) -> None:
        self.cfg = cfg
        self.client: smpplib.client.Client | None = None

    def open(self) -> None:
        cfg = self.cfg
        client = smpplib.client.Client(
            cfg.host,
            cfg.port,
            timeout=cfg.response_seconds,
            logger_name="kontor.smpplib",
            allow_unknown_opt_params=True,
        )
        self.client = client
        client.connect()
        client.bind_transceiver(
            system_id=cfg.system_id,
            password=cfg.password,
            system_type=cfg.system_type,
            addr_ton=cfg.source_ton,
            addr_npi=cfg.source_npi,
        )

    def read(self, timeout: float) -> Any | None:
        """The next PDU if one arrives within `timeout` seconds (smpplib reads whole PDUs)."""
        assert self.client is not None and self.client._socket is not None
        readable, _, _ = select.select([self.client._socket], [], [], timeout)
        return self.client.read_pdu() if readable else None

    def submit(self, submit: Submit) -> int:
        """Send one submit_sm; returns its sequence number, which its submit_sm_resp carries."""
        cfg, client = self.cfg, self._client()
        pdu = smpplib.smpp.make_pdu(
            "submit_sm",
            client=client,
            source_addr=cfg.source_addr,
            source_addr_ton=cfg.source_ton,
            source_addr_npi=cfg.source_npi,
            destination_addr=submit.to.lstrip("+"),
            dest_addr_ton=cfg.dest_ton,
            dest_addr_npi=cfg.dest_npi,
            esm_class=submit.esm,
            data_coding=submit.coding,
            short_message=submit.message,
            registered_delivery=DELIVERY_RECEIPT if submit.receipt else 0,
        )
        client.send_pdu(pdu)
        return int(pdu.sequence)

    def respond(self, request: Any, status: int = 0) -> None:
        """The answer to a request from the SMSC (deliver_sm, enquire_link, unbind), same sequence number."""
        client = self._client()
        resp = smpplib.smpp.make_pdu(request.command + "_resp", client=client, status=status)
        resp.sequence = request.sequence
        client.send_pdu(resp)

    def enquire(self) -> None:
        client = self._client()
        client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))

    def close(self, unbind: bool) -> None:
        """Unbind politely when asked to stop (the SMSC then stops sending to us), then close the socket."""
        client = self.client
        if client is None:
            return
        if unbind and client._socket is not None:
            try:
                self._unbind(client)
            except LINK_ERRORS as exc:
                log.info("unbind not answered: %s", exc)
        self.client = None
        client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN  # smpplib warns when a bound socket is closed
        client.disconnect()

    def _unbind(self, client: smpplib.client.Client) -> None:
        """unbind, then read until its answer (a deliver_sm may still come first; it is left for redelivery)."""
        client.send_pdu(smpplib.smpp.make_pdu("unbind", client=client))
        for _ in range(20):
            pdu = self.read(self.cfg.response_seconds)
            if pdu is None or pdu.command == "unbind_resp":
                log.info("unbound from the SMSC" if pdu is not None else "unbind not answered in time")
                return

    def _client(self) -> smpplib.client.Client:
        if self.client is None:
            raise LinkDown("not connected")
        return self.client
