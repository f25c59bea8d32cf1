"""The terminal phone's SMSC (sms_gateway/smpp/phone_smsc.py) on loopback against Kontor's own bind (smpp/link.py,
smpplib) driven by hand: a typed line delivered again until acknowledged OK, and given up after its time; parts
shown once whole, each with a delivery receipt; enquire_link answered; unbind ends the session."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sms_gateway.settings import Smpp, load
from sms_gateway.smpp.link import Link
from sms_gateway.smpp.outbound import Submit
from sms_gateway.smpp.phone_line import open_line
from sms_gateway.smpp.phone_smsc import Mt, PhoneSmsc
from sms_gateway.smpp.receipts import parse
from tests.support.smsc_text import mo_parts
from tests.support.stack import free_port, write_config

PHONE = "+989121234567"
TEMPORARY_ERROR = 0x64  # ESME_RX_T_APPN


@pytest.fixture()
def bound() -> Iterator[tuple[PhoneSmsc, Link, list[Mt]]]:
    """The phone's SMSC and one transceiver bind to it, both stopped after the test."""
    shown: list[Mt] = []
    port = free_port()
    smsc = PhoneSmsc("127.0.0.1", port, shown.append).start()
    link = Link(account(port))
    try:
        link.open()
        assert smsc.wait_bound(5)
        yield smsc, link, shown
    finally:
        link.close(unbind=False)
        smsc.stop()


def account(port: int) -> Smpp:
    return Smpp(
        **{"host": "127.0.0.1", "port": port, "system_id": "kontor", "password": "x", "system_type": ""},
        **{"source_addr": "3000", "source_ton": 0, "source_npi": 1, "dest_ton": 1, "dest_npi": 1, "window": 10},
        **{"per_second": 50, "enquire_link_seconds": 30, "response_seconds": 3, "reconnect_max_seconds": 1},
        send_wait_seconds=5,
    )


def next_pdu(link: Link, command: str, timeout: float = 5) -> Any:
    pdu = link.read(timeout)
    assert pdu is not None and pdu.command == command, pdu and pdu.command
    return pdu


def typing(smsc: PhoneSmsc, text: str, timeout: float = 10) -> tuple[threading.Thread, list[BaseException]]:
    """The phone sends a line in the background (send() blocks until acknowledged); what it raised."""
    raised: list[BaseException] = []

    def send() -> None:
        try:
            smsc.send(PHONE, "3000", text, timeout)
        except BaseException as exc:  # noqa: BLE001 - the test reads what the phone raised
            raised.append(exc)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread, raised


def test_a_line_is_delivered_again_until_acknowledged_ok(bound: tuple[PhoneSmsc, Link, list[Mt]]) -> None:
    smsc, link, _ = bound
    thread, raised = typing(smsc, "قرائت")
    first = next_pdu(link, "deliver_sm")
    link.respond(first, TEMPORARY_ERROR)
    again = next_pdu(link, "deliver_sm")
    link.respond(again)
    thread.join(5)
    assert not thread.is_alive() and not raised
    assert again.short_message == first.short_message == "قرائت".encode("utf-16-be") and again.data_coding == 8
    assert again.sequence != first.sequence and again.source_addr == b"989121234567"


def test_a_line_never_acknowledged_is_given_up(bound: tuple[PhoneSmsc, Link, list[Mt]]) -> None:
    smsc, link, _ = bound
    thread, raised = typing(smsc, "READ", timeout=1.5)
    while thread.is_alive():
        pdu = link.read(0.2)
        if pdu is not None:
            link.respond(pdu, TEMPORARY_ERROR)
    assert len(raised) == 1 and isinstance(raised[0], TimeoutError) and "0x00000064" in str(raised[0])


def test_parts_show_once_whole_and_each_gets_a_receipt(bound: tuple[PhoneSmsc, Link, list[Mt]]) -> None:
    smsc, link, shown = bound
    text = "صورتحساب خارج از دوره ثبت شد. " * 4
    coding, parts = mo_parts(text, 60, udh16=False, sar=False, ref=77)  # the simulator's coding, not Kontor's
    for index, part in enumerate(parts):
        link.submit(Submit("item", index, PHONE, coding, part["esm_class"], part["short_message"]))
    ids, receipts = [], []
    while len(ids) + len(receipts) < 2 * len(parts):  # answers and receipts, in whatever order they come
        pdu = link.read(5)
        assert pdu is not None, (ids, receipts)
        if pdu.command == "submit_sm_resp":
            ids.append(pdu.message_id.decode())
        else:
            assert (pdu.command, pdu.esm_class, pdu.destination_addr) == ("deliver_sm", 0x04, b"3000")
            link.respond(pdu)
            receipts.append(parse(pdu.short_message.decode())[:2])
    assert shown == [Mt("989121234567", text, len(parts))]
    assert sorted(receipts) == sorted((i, "DELIVRD") for i in ids) and len(set(ids)) == len(parts)


def test_enquire_link_is_answered_and_unbind_ends_the_session(bound: tuple[PhoneSmsc, Link, list[Mt]]) -> None:
    smsc, link, _ = bound
    link.enquire()
    next_pdu(link, "enquire_link_resp")
    link.close(unbind=True)
    deadline = threading.Event()
    for _ in range(50):
        if not smsc.bound():
            break
        deadline.wait(0.1)
    assert not smsc.bound()


def test_a_taken_port_is_told_not_thrown(tmp_path: Path, redis_server: str) -> None:
    """smpp.host on loopback at a port something else holds: the phone says so (and `kontor phone` exits 2)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        account = {"smpp__host": "127.0.0.1", "smpp__port": port, "smpp__password": "x"}
        config = write_config(tmp_path, redis_server, "sqlite://", None, free_port(), **account)
        with pytest.raises(ValueError, match=f"cannot listen on 127.0.0.1:{port}"):
            open_line(load(config), lambda mt: None)
