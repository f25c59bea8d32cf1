"""deliver_sm -> handle(): decode, reassemble the parts, deduplicate a redelivery, queue the replies.

The caller answers deliver_sm_resp only after receive() returned, then calls the returned `after`: until then
the SMSC may redeliver. A redelivery carries a new sequence number and no stable id, and the same text ("0")
may rightly come twice from one phone, so the dedupe key (source, destination, text, concatenation reference)
lives only while a message is handled but not yet acknowledged; it holds the message id handed to handle(),
so a redelivery gets the same id (handle() then repeats the stored reply without applying it twice).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from adapters.senders.smpp import PREFIX, QUEUE, Item
from dialogs.model import Inbound
from sms_gateway.channels.common import TRANSIENT, try_again
from sms_gateway.channels.numbers import sender_of
from sms_gateway.handler import handle
from sms_gateway.logs import mask_digits
from sms_gateway.runtime import Services
from sms_gateway.smpp import codec, receipts

log = logging.getLogger("kontor.smpp")
CHANNEL = "smpp"  # recorded on the request (the export, the desk's statistics)
OK, TEMPORARY_ERROR = 0x00, 0x64  # ESME_ROK; ESME_RX_T_APPN: the SMSC delivers it again later
PARTS_SECONDS = 3600  # parts of a concatenated message wait this long for the others
UNACKED_SECONDS = 3600  # a dedupe key outlives a lost acknowledgement by this long at most


def text_of(value: Any) -> str:
    """A PDU field as text, whatever bytes the SMSC put there."""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value or "")


def part_of(pdu: Any) -> codec.Part:
    """The message's bytes and its place among concatenated parts: by UDH, or by the SAR TLVs."""
    message = pdu.short_message or getattr(pdu, "message_payload", None) or b""
    if pdu.esm_class & codec.UDHI:
        return codec.parse_udh(message)
    total = getattr(pdu, "sar_total_segments", None)
    if total and total > 1:
        return codec.Part(message, pdu.sar_msg_ref_num or 0, total, pdu.sar_segment_seqnum or 1)
    return codec.Part(message)


def receive(services: Services, pdu: Any) -> tuple[int, Callable[[], None]]:
    """The deliver_sm_resp status to send, and what to do once it is sent; Redis or SQL down: a temporary error."""
    try:
        return _receive(services, pdu)
    except (redis.RedisError, SQLAlchemyError) as exc:
        log.warning("deliver_sm not taken now, the SMSC will redeliver: %r", exc)
        return TEMPORARY_ERROR, lambda: None


def _receive(services: Services, pdu: Any) -> tuple[int, Callable[[], None]]:
    """A receipt updates SQL; a part waits for the others; a whole message goes to the dialog."""
    if pdu.esm_class & codec.RECEIPT:
        text = codec.decode(pdu.data_coding or 0, pdu.short_message or getattr(pdu, "message_payload", None) or b"")
        state = getattr(pdu, "message_state", None)
        receipts.keep(services, *receipts.parse(text, text_of(getattr(pdu, "receipted_message_id", "")), state))
        return OK, lambda: None
    source, destination, part = text_of(pdu.source_addr), text_of(pdu.destination_addr), part_of(pdu)
    where = f"{PREFIX}:concat:" + _digest(source, destination, part.ref, part.total)
    payload = _assemble(services.redis, where, part) if part.total > 1 else part.payload
    if payload is None:
        return OK, lambda: None  # a part is kept in Redis: acknowledged, the message is not complete yet
    text = codec.decode(pdu.data_coding or 0, payload)
    sender = sender_of(source)  # E.164, the one form of a phone on every channel
    if not sender:
        return OK, lambda: None
    unacked = f"{PREFIX}:unacked:" + _digest(source, destination, part.ref, part.total, text)
    status = _handle(services, unacked, Inbound(sender, text, channel=CHANNEL))

    def acknowledged() -> None:
        """deliver_sm_resp is sent: a later identical message is a new one."""
        services.redis.delete(unacked, where)

    return status, acknowledged if status == OK else lambda: None


def _handle(services: Services, unacked: str, inbound: Inbound) -> int:
    """Hand the message to the dialog once (same id on redelivery) and queue its replies once."""
    services.redis.set(
        unacked, json.dumps({"id": "smpp-" + uuid.uuid4().hex, "queued": False}), nx=True, ex=UNACKED_SECONDS
    )
    seen = json.loads(services.redis.get(unacked) or "{}")
    try:
        replies = handle(services, dataclasses.replace(inbound, message_id=seen["id"]))
    except TRANSIENT as exc:
        log.warning(
            "could not handle a message from %s now, the SMSC will redeliver: %s", mask_digits(inbound.sender), exc
        )
        return TEMPORARY_ERROR
    except Exception:
        log.exception("failed on a message from %s", mask_digits(inbound.sender))
        replies = try_again(services, inbound.text)
    if not seen["queued"]:
        pipe = services.redis.pipeline()
        for reply in replies:
            pipe.rpush(QUEUE, Item.new(inbound.sender, reply).dumps())
        pipe.set(unacked, json.dumps({**seen, "queued": True}), ex=UNACKED_SECONDS)
        pipe.execute()
    return OK


def _assemble(client: redis.Redis, where: str, part: codec.Part) -> bytes | None:
    """Keep this part; the whole message once every part is there (a redelivered part just overwrites itself)."""
    pipe = client.pipeline()
    pipe.hset(where, str(part.seq), part.payload)
    pipe.expire(where, PARTS_SECONDS)
    pipe.hgetall(where)
    stored = pipe.execute()[-1]
    wanted = [str(i).encode() for i in range(1, part.total + 1)]
    if any(key not in stored for key in wanted):  # counted by number, not by how many: a stray part fills nothing
        return None
    return b"".join(stored[key] for key in wanted)


def _digest(*fields: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, fields)).encode()).hexdigest()[:40]
