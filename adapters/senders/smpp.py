"""The SMPP gateway, worker side: an SMS is handed to `kontor smpp` through Redis, never by a bind of its own.

An SMSC allows few binds per account, and only one process can keep a window and the account's rate, so every
SMS (the workers' and the dialog's replies) goes through one Redis list that `kontor smpp` consumes:
  kontor:{smpp}:queue        items waiting (JSON), taken with LMOVE into
  kontor:{smpp}:inflight     items being submitted; removed only once the SMSC accepted every part (else put back)
  kontor:{smpp}:result:<id>  the outcome a waiting worker reads (the SMSC's message id, or a permanent error)
The worker's send() waits for that outcome, so the SMSC's message id is recorded as the provider id.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis

from adapters.senders import MediaAccess, PermanentSendError, TransientSendError

if TYPE_CHECKING:
    from sms_gateway.settings import Settings

PREFIX = "kontor:{smpp}"  # one hash tag: LMOVE between the lists and the pipelines stay in one Cluster slot
QUEUE, INFLIGHT = f"{PREFIX}:queue", f"{PREFIX}:inflight"
KEEP_SECONDS = 86400  # an item's claim and outcome: long enough for any retry of its job


def result_key(item_id: str) -> str:
    return f"{PREFIX}:result:{item_id}"


def done_key(item_id: str) -> str:
    return f"{PREFIX}:done:{item_id}"


@dataclass(frozen=True)
class Item:
    """One SMS to submit; `ref` is its concatenation reference, kept so a resubmitted part joins the same SMS."""

    id: str
    to: str
    body: str
    ref: int
    wait: bool = False  # a worker waits for its outcome (the tracking SMS); a dialog reply does not

    def dumps(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def loads(cls, raw: bytes | str) -> Item:
        return cls(**json.loads(raw))

    @classmethod
    def new(cls, to: str, body: str, item_id: str = "", wait: bool = False) -> Item:
        return cls(item_id or uuid.uuid4().hex, to, body, random.randrange(256), wait)


def publish(client: redis.Redis, item_id: str, provider_id: str = "", error: str = "") -> None:
    """Record an item's outcome and wake the worker waiting for it."""
    pipe = client.pipeline()
    pipe.set(result_key(item_id), json.dumps({"provider_id": provider_id, "error": error}), ex=KEEP_SECONDS)
    pipe.rpush(done_key(item_id), "1")
    pipe.expire(done_key(item_id), 60)
    pipe.execute()


def outcome(client: redis.Redis, item_id: str, timeout: float) -> dict[str, Any] | None:
    """The item's outcome, waiting up to `timeout` seconds for it; None = not accepted by the SMSC yet."""
    deadline = time.monotonic() + timeout
    raw = client.get(result_key(item_id))
    while raw is None and time.monotonic() < deadline:  # one-second waits: below any client's socket timeout
        client.blpop([done_key(item_id)], timeout=1)
        raw = client.get(result_key(item_id))
    return None if raw is None else dict(json.loads(raw))


# KEYS: claim, queue. ARGV: the item, KEEP_SECONDS. Queue the item unless it was queued already: one script, so a
# claim never stands without its item in the queue (a timeout between two calls left the SMS claimed, never queued).
_QUEUE_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then redis.call('RPUSH', KEYS[2], ARGV[1]) end
return 1
"""


class SmppSender:
    """Queues the SMS once per Kontor id (else per number and text) and waits for the SMSC's answer: a retry of the
    job waits for the same queued SMS, never queues a second one."""

    name = "smpp"
    media = MediaAccess()  # SMPP carries no media: nothing is fetched

    def __init__(self, client: redis.Redis, number: str, wait_seconds: float) -> None:
        self.client, self.number, self.wait_seconds = client, number, wait_seconds
        self._queue_once = client.register_script(_QUEUE_ONCE)

    def send(self, to: str, body: str, local_id: str = "") -> str:
        item_id = item_id_of(to, body, local_id)
        try:
            self._queue_once(
                keys=[claim_key(item_id), QUEUE], args=[Item.new(to, body, item_id, wait=True).dumps(), KEEP_SECONDS]
            )
            result = outcome(self.client, item_id, self.wait_seconds)
        except redis.RedisError as exc:
            raise TransientSendError(f"redis: {exc}") from exc
        if result is None:
            raise TransientSendError(f"queued for kontor smpp, not accepted by the SMSC within {self.wait_seconds}s")
        if result["error"]:
            raise PermanentSendError(result["error"])
        return str(result["provider_id"])

    def find(self, to: str, body: str, since: datetime, local_id: str = "") -> str | None:
        """The SMSC's id if it accepted this SMS; None if it was never queued; transient while it waits in the queue."""
        item_id = item_id_of(to, body, local_id)
        try:
            result = outcome(self.client, item_id, 0)
            queued = result is None and bool(self.client.exists(claim_key(item_id)))
        except redis.RedisError as exc:
            raise TransientSendError(f"redis: {exc}") from exc
        if queued:
            raise TransientSendError("queued for kontor smpp, not answered by the SMSC yet")
        return str(result["provider_id"]) if result and not result["error"] else None


def item_id_of(to: str, body: str, local_id: str = "") -> str:
    """One queue item per outbound message: Kontor's own id when given, else the number and the text."""
    key = f"id\n{local_id}" if local_id else f"{to}\n{body}"
    return "w" + hashlib.sha256(key.encode()).hexdigest()[:32]


def claim_key(item_id: str) -> str:
    return f"{PREFIX}:claim:{item_id}"


def from_settings(settings: Settings) -> SmppSender:
    """The sender for `outbound.gateway: smpp`; refuses to start while the smpp section is off."""
    if settings.smpp is None or not settings.smpp.enabled:
        raise ValueError("outbound.gateway is smpp: set smpp.host and smpp.password (see docs/channels/smpp.md)")
    from sms_gateway.redis_client import connect  # Kontor's one Redis client (redis.url or Sentinel's primary)

    return SmppSender(connect(settings), settings.smpp.source_addr, settings.smpp.send_wait_seconds)
