"""Rate limits in Redis, folded into the lock+load round trip so a webhook step still costs two round trips.

Per phone: a fixed one-minute window counted inside the lock+load script (the phone's keys share the hash tag
{phone}). Globally: a fixed one-second window, counted in the same script. INQUIRE with a number: a fixed one-hour window per phone, one extra round trip only for that message.
Outbound: a GCRA throttle per sender number, shared by every worker.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from storage.sessions import SessionStore, Stored

PHONE_WINDOW, GLOBAL_WINDOW, INQUIRE_WINDOW = 60, 1, 3600

# KEYS: session, lock, phone counter, opt-out flag. ARGV: token, lock ms, count (1/0), phone limit, window s.
# Returns {state, raw session, opted out, count}: state 1 = locked and loaded, 0 = lock busy, 2 = over the limit.
_GATE = """
local n, g = 0, 0
if ARGV[3] == '1' then
  n = redis.call('INCR', KEYS[3])
  if n == 1 then redis.call('EXPIRE', KEYS[3], ARGV[5]) end
  if KEYS[5] then
    g = redis.call('INCR', KEYS[5])
    if g == 1 then redis.call('EXPIRE', KEYS[5], ARGV[6]) end
  end
end
local opted = redis.call('EXISTS', KEYS[4])
if n > tonumber(ARGV[4]) then return {2, redis.call('GET', KEYS[1]) or '', opted, n, g} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, '', opted, n, g} end
return {1, redis.call('GET', KEYS[1]) or '', opted, n, g}
"""

_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

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


@dataclass
class Gate:
    """What the first round trip of a step learned: the loaded session, or why the message stops here."""
    state: str                 # "open" (lock held), "limited" (over the phone's limit)
    stored: Stored
    opted_out: bool
    notice: bool               # the first message over the limit in this window gets one notice
    global_over: bool


def phone_key(sessions: SessionStore, phone: str, name: str) -> str:
    """A per-phone key in the session's hash slot, so one script may touch it with the session."""
    return f"{sessions.prefix}:{{{phone}}}:{name}"


def enter(client: redis.Redis, sessions: SessionStore, phone: str, token: str, per_minute: int,
          per_second: int) -> Gate:
    """Count the message (phone and global windows), then lock and load the session: one script, one round trip.

    The global counter's key is in another hash slot than the phone's: fine on one Redis or Sentinel (what
    Kontor runs on); on Redis Cluster it would move to its own pipelined INCR, still in the same round trip.
    """
    keys = sessions._keys(phone) + [phone_key(sessions, phone, "rate"), phone_key(sessions, phone, "optout"),
                                    f"{sessions.prefix}:rate:global:{int(time.time())}"]
    state, raw, opted, n, count = _gate(client)(keys=keys, args=[token, sessions.lock_ms, 1, per_minute,
                                                                 PHONE_WINDOW, GLOBAL_WINDOW + 1])
    gate = Gate("limited" if state == 2 else "open", Stored.decode(raw), bool(opted), n == per_minute + 1,
                count > per_second)
    if state == 0:
        gate.stored, gate.opted_out = _wait_for_lock(client, sessions, phone, token)
    return gate


_SCRIPTS: dict[int, redis.commands.core.Script] = {}


def _gate(client: redis.Redis) -> redis.commands.core.Script:
    """The gate script, registered once per client (redis-py reloads it by itself after a Redis restart)."""
    script = _SCRIPTS.get(id(client))
    if script is None or script.registered_client is not client:
        script = _SCRIPTS[id(client)] = client.register_script(_GATE)
    return script


def _wait_for_lock(client: redis.Redis, sessions: SessionStore, phone: str, token: str) -> tuple[Stored, bool]:
    """Another message of the same phone holds the lock: the session store's own wait, without counting again."""
    stored = sessions.begin(phone, token)
    return stored, bool(client.exists(phone_key(sessions, phone, "optout")))


def inquire_allowed(client: redis.Redis, sessions: SessionStore, phone: str, per_hour: int) -> tuple[bool, bool]:
    """(allowed, first refusal) for an INQUIRE with a tracking number: guessing numbers is slow and noticed."""
    n = client.register_script(_COUNT)(keys=[phone_key(sessions, phone, "inquire")], args=[INQUIRE_WINDOW])
    return n <= per_hour, n == per_hour + 1


def throttle(client: redis.Redis, sender: str, per_second: float, max_wait: float = 5.0,
             sleep=time.sleep) -> float:  # type: ignore[no-untyped-def]
    """Take the sender number's next send slot, waiting (bounded) when it is busy; returns seconds waited."""
    if per_second <= 0:
        return 0.0
    script, interval = client.register_script(_THROTTLE), max(1, int(1000 / per_second))
    waited, deadline = 0.0, time.monotonic() + max_wait
    for _ in range(10_000):
        wait_ms = script(keys=[f"kontor:throttle:{{{sender}}}"], args=[interval])
        if not wait_ms:
            return waited
        if time.monotonic() + wait_ms / 1000 > deadline:
            break
        sleep(wait_ms / 1000)
        waited += wait_ms / 1000
    raise Throttled(f"sender {sender[-4:]} over {per_second}/s for {max_wait}s")
