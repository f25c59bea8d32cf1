"""The outbound throttle: a GCRA per sender number, shared by every worker through Redis
(key <prefix>:throttle:{number}), so a gateway's per-number rate is never exceeded however many workers send."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from adapters.senders import TransientSendError
from storage.phones import PREFIX

# GCRA: KEYS[1] holds the theoretical arrival time (ms). ARGV: interval ms. Returns 0 (go) or ms to wait.
_THROTTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then return tat - now end
redis.call('SET', KEYS[1], math.max(tat, now) + tonumber(ARGV[1]), 'PX', tonumber(ARGV[1]) + 1000)
return 0
"""


_SCRIPTS: dict[int, redis.commands.core.Script] = {}


def _script(client: redis.Redis) -> redis.commands.core.Script:
    """The throttle script, registered once per client (redis-py loads it again by itself after a restart)."""
    script = _SCRIPTS.get(id(client))
    if script is None or script.registered_client is not client:
        script = _SCRIPTS[id(client)] = client.register_script(_THROTTLE)
    return script


class Throttled(TransientSendError):
    """The sender number stayed over its rate for longer than we wait: a transient error, retried by RQ."""


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
    script, interval = _script(client), max(1, int(1000 / per_second))
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
