"""Delivering the SMS Kontor owes: each owed message (a row in outbound_messages) is sent at most once.

The row is claimed by a conditional UPDATE (status still pending) as the first statement of the transaction:
PostgreSQL locks the row, SQLite takes its write lock, so two workers never both send it. Throttling and the
opt-out check happen before the claim, so no lock is held while waiting.
The throttle is a GCRA per sender number, shared by every worker: key <prefix>:throttle:{number}.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from sqlalchemy import select, update

from adapters.clock import utcnow
from adapters.senders import PermanentSendError, TransientSendError
from sms_gateway import bootstrap, runtime
from storage.models import OutboundMessage
from storage.phones import PREFIX

log = logging.getLogger("kontor.outbox")
THROTTLE_WAIT_SECONDS = 5.0

# GCRA: KEYS[1] holds the theoretical arrival time (ms). ARGV: interval ms. Returns 0 (go) or ms to wait.
_THROTTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then return tat - now end
redis.call('SET', KEYS[1], math.max(tat, now) + tonumber(ARGV[1]), 'PX', tonumber(ARGV[1]) + 1000)
return 0
"""


class Throttled(Exception):
    """The sender number stayed over its rate for longer than we wait: a transient error, retried by RQ."""


def deliver(message_id: int) -> None:
    """Send an owed SMS unless it was sent, failed for good or suppressed; transient errors raise so RQ retries."""
    services = bootstrap.services()
    with services.db() as db:
        to = db.scalar(
            select(OutboundMessage.to).where(OutboundMessage.id == message_id, OutboundMessage.status == "pending")
        )
    if to is None:
        return
    if services.sessions.opted_out(to):
        _finish(services, message_id, "suppressed", "opted out (STOP)")
        return
    throttle(
        services.redis,
        services.sms.number,
        services.settings.outbound.per_sender_per_second,
        THROTTLE_WAIT_SECONDS,
        prefix=services.sessions.prefix,
    )
    error = _send_claimed(services, message_id)
    if error is not None:
        raise error


def _send_claimed(services: runtime.Services, message_id: int) -> TransientSendError | None:
    """Claim the row, send, record the outcome; a transient error is recorded, then returned to raise."""
    with services.db.begin() as db:
        claimed = db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id, OutboundMessage.status == "pending")
            .values(attempts=OutboundMessage.attempts + 1)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return None
        message = db.get_one(OutboundMessage, message_id, with_for_update=True)
        message.provider = services.sms.name
        try:
            message.provider_id = services.sms.send(message.to, message.body)
            message.status, message.sent_at, message.error = "sent", utcnow(), ""
        except PermanentSendError as exc:
            message.status, message.error = "failed", str(exc)
            log.warning("SMS %s failed for good: %s", message_id, exc)
        except TransientSendError as exc:
            message.error = str(exc)
            log.warning("SMS %s not sent yet (attempt %s): %s", message_id, message.attempts, exc)
            return exc
    return None


def _finish(services: runtime.Services, message_id: int, status: str, reason: str) -> None:
    """Close a pending row without sending (opted out)."""
    with services.db.begin() as db:
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id, OutboundMessage.status == "pending")
            .values(status=status, error=reason)
        )
    log.info("SMS %s %s: %s", message_id, status, reason)


def throttle(
    client: redis.Redis,
    sender: str,
    per_second: float,
    max_wait: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    prefix: str = PREFIX,
) -> float:
    """Take the sender number's next send slot, waiting (bounded) when it is busy; returns seconds waited."""
    if per_second <= 0:
        return 0.0
    script, interval = client.register_script(_THROTTLE), max(1, int(1000 / per_second))
    waited, deadline = 0.0, time.monotonic() + max_wait
    for _ in range(10_000):
        wait_ms = int(script(keys=[f"{prefix}:throttle:{{{sender}}}"], args=[interval]))
        if not wait_ms:
            return waited
        if time.monotonic() + wait_ms / 1000 > deadline:
            break
        sleep(wait_ms / 1000)
        waited += wait_ms / 1000
    raise Throttled(f"sender {sender[-4:]} over {per_second}/s for {max_wait}s")
