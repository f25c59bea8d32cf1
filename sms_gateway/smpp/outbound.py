"""The submit side of `kontor smpp`: items from the Redis queue become submit_sm parts, inside the window and the rate.

Nothing is lost: an item stays in the in-flight list until the SMSC accepted every part (each accepted part is
noted in Redis, so a resubmission skips it); after a dropped link `recover()` puts the rest back at the head.
A throttling or system error from the SMSC retries that part with backoff; any other error fails the item.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import redis

from adapters.senders.smpp import INFLIGHT, PREFIX, QUEUE, Item, publish
from sms_gateway.logs import mask_digits
from sms_gateway.settings import Smpp
from sms_gateway.smpp import codec

log = logging.getLogger("kontor.smpp")
# ESME_RSYSERR, ESME_RMSGQFUL, ESME_RSUBMITFAIL, ESME_RTHROTTLED, ESME_RX_T_APPN: the same part may pass later
RETRY_STATUSES = {0x08, 0x14, 0x45, 0x58, 0x64}
PART_MAP_SECONDS = 3 * 86400  # a part's SMSC id -> the message's provider id, for delivery receipts


def parts_key(item_id: str) -> str:
    return f"{PREFIX}:parts:{item_id}"


def part_key(smsc_id: str) -> str:
    return f"{PREFIX}:part:{smsc_id}"


@dataclass
class Pending:
    """An item being submitted: its encoded parts, the ones still to be accepted, the SMSC ids of the others."""

    raw: bytes | str
    item: Item
    coding: int
    esm: int
    parts: list[bytes]
    ids: dict[int, str] = field(default_factory=dict)
    tries: int = 0


@dataclass(frozen=True)
class Submit:
    """One submit_sm to send now."""

    item_id: str
    index: int
    to: str
    coding: int
    esm: int
    message: bytes
    receipt: bool = True  # a delivery receipt asked for: only for SMS whose row waits for it (not dialog replies)


class Outbound:
    """The window, the rate and the retries of submit_sm; the Redis lists are the only lasting state."""

    def __init__(self, client: redis.Redis, cfg: Smpp, clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.cfg, self.clock = client, cfg, clock
        self.pending: dict[str, Pending] = {}
        self.ready: deque[tuple[str, int]] = deque()
        self.delayed: list[tuple[float, str, int]] = []
        self.outstanding: dict[int, tuple[str, int, float]] = {}
        self.next_slot = 0.0

    def recover(self) -> int:
        """Forget the link's state and put every in-flight item back at the head of the queue (oldest first)."""
        self.pending.clear()
        self.ready.clear()
        self.delayed.clear()
        self.outstanding.clear()
        moved = 0
        while self.client.lmove(INFLIGHT, QUEUE, "RIGHT", "LEFT") is not None:
            moved += 1
        if moved:
            log.info("%s SMS put back in the queue after a dropped link", moved)
        return moved

    def next(self) -> Submit | None:
        """The next part to submit, if the window and the rate allow one now."""
        now = self.clock()
        if len(self.outstanding) >= self.cfg.window or now < self.next_slot:
            return None
        self._wake(now)
        if not self.ready and not self._take():
            return None
        item_id, index = self.ready.popleft()
        p = self.pending[item_id]
        self.next_slot = max(now, self.next_slot) + 1.0 / max(self.cfg.per_second, 0.001)
        return Submit(item_id, index, p.item.to, p.coding, p.esm, p.parts[index], p.item.wait)

    def idle_seconds(self, longest: float) -> float:
        """How long the loop may wait for a PDU: until the next rate slot when parts are ready to go."""
        if not self.ready or len(self.outstanding) >= self.cfg.window:
            return longest
        return max(0.0, min(longest, self.next_slot - self.clock()))

    def sent(self, sequence: int, submit: Submit) -> None:
        self.outstanding[sequence] = (submit.item_id, submit.index, self.clock())

    def overdue(self) -> bool:
        """A submit_sm unanswered for response_seconds: the link is dead even if the socket looks open."""
        limit = self.clock() - self.cfg.response_seconds
        return any(at < limit for _, _, at in self.outstanding.values())

    def answered(self, sequence: int, status: int, smsc_id: str) -> None:
        """submit_sm_resp (or generic_nack): note the part, retry it later, or fail its item."""
        if sequence not in self.outstanding:
            return
        item_id, index, _ = self.outstanding.pop(sequence)
        p = self.pending.get(item_id)
        if p is None:  # the item ended already: another of its parts was refused for good
            return
        if status == 0:
            p.ids[index] = smsc_id
            pipe = self.client.pipeline()
            pipe.hset(parts_key(item_id), str(index), smsc_id)
            pipe.expire(parts_key(item_id), PART_MAP_SECONDS)
            pipe.execute()
            if len(p.ids) == len(p.parts):
                self._finish(p, "")
        elif status in RETRY_STATUSES:
            p.tries += 1
            wait = min(2.0**p.tries, self.cfg.reconnect_max_seconds)
            log.warning("SMSC answered 0x%02x to a part for %s; again in %.0fs", status, mask_digits(p.item.to), wait)
            self.delayed.append((self.clock() + wait, item_id, index))
        else:
            self._finish(p, f"SMSC refused it: command_status 0x{status:08x}")

    def _wake(self, now: float) -> None:
        due = [d for d in self.delayed if d[0] <= now]
        self.delayed = [d for d in self.delayed if d[0] > now]
        self.ready.extend((item_id, index) for _, item_id, index in sorted(due))

    def _take(self) -> bool:
        """Move the next queued item into flight and line up its parts not yet accepted."""
        raw = self.client.lmove(QUEUE, INFLIGHT, "LEFT", "RIGHT")
        if raw is None:
            return False
        item = Item.loads(raw)
        try:
            coding, esm, parts = codec.split(item.body, item.ref)
        except ValueError as exc:
            self._finish(Pending(raw, item, 0, 0, []), str(exc))
            return False
        stored = cast(dict[bytes, bytes], self.client.hgetall(parts_key(item.id)))
        done = {int(k): v.decode() for k, v in stored.items()}
        p = self.pending[item.id] = Pending(raw, item, coding, esm, parts, done)
        if len(done) == len(parts):
            self._finish(p, "")
            return False
        self.ready.extend((item.id, i) for i in range(len(parts)) if i not in done)
        return True

    def _finish(self, p: Pending, error: str) -> None:
        """Every part accepted (or the item refused for good): tell the worker, map the parts, leave the lists."""
        first = p.ids.get(0, "")
        pipe = self.client.pipeline()
        if p.item.wait and not error:
            for smsc_id in p.ids.values():
                pipe.set(part_key(smsc_id), first, ex=PART_MAP_SECONDS)
        pipe.lrem(INFLIGHT, 1, p.raw if isinstance(p.raw, str) else p.raw.decode())
        pipe.delete(parts_key(p.item.id))
        pipe.execute()
        if p.item.wait:
            publish(self.client, p.item.id, first, error)
        if error:
            log.error("SMS to %s failed for good: %s", mask_digits(p.item.to), error)
        self.pending.pop(p.item.id, None)
        self.ready = deque(r for r in self.ready if r[0] != p.item.id)  # its other parts go nowhere now
        self.delayed = [d for d in self.delayed if d[1] != p.item.id]
