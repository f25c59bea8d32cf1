"""Every Redis key of one phone, and their one owner: two round trips per message (lock+load, save+unlock).

Keys (PREFIX = "kontor"; all of one phone share the hash tag {phone}, so they stay in one Redis Cluster slot
and one Lua script may touch them all):
  kontor:{phone}:s        the stored record: dialog session, last message ids seen (dedupe), last replies; TTL
  kontor:{phone}:lock     the token of the message being handled; expires after lock_seconds
  kontor:{phone}:rate     messages this minute (PHONE_WINDOW)
  kontor:{phone}:inquire  INQUIRE with a tracking number this hour (INQUIRE_WINDOW)
  kontor:{phone}:optout   STOP was sent: nothing unsolicited until START; no TTL
  kontor:{phone}:undo     with Sentinel: the record before a confirm, until a replica acknowledged it; 60 s
  kontor:rate:global:{s}  the only inbound key of no phone: all messages in one second (GLOBAL_WINDOW)
The session inside the record is opaque here: storage.codec encodes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis.commands.core import Script

from dialogs.model import Session
from storage.codec import dump_session, load_session

PREFIX = "kontor"
PHONE_WINDOW, GLOBAL_WINDOW, INQUIRE_WINDOW = 60, 1, 3600
SEEN_KEPT = 4

# KEYS: record, lock, phone counter, opt-out flag[, global counter]. ARGV: token, lock ms, count (1/0),
# phone limit, phone window s, global window s. Returns {state, raw record, opted out, phone count, global count}:
# state 1 = locked and loaded, 0 = lock busy, 2 = over the phone's limit (loaded, not locked).
_ENTER = """
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

# KEYS: record, lock. ARGV: token, record ('' = delete), TTL s. Saves and unlocks only while the lock is ours.
_COMMIT = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: record, lock, undo. ARGV: token, record, TTL s. The save, keeping the record it replaces in `undo`.
_COMMIT_UNDOABLE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], redis.call('GET', KEYS[1]) or '', 'EX', 60)
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: record, lock, undo. ARGV: the record saved, TTL s. Put back the record before the save, unless another
# message holds the lock or saved since.
_UNDO = """
local before = redis.call('GET', KEYS[3])
redis.call('DEL', KEYS[3])
if not before or redis.call('EXISTS', KEYS[2]) == 1 or (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
if before == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], before, 'EX', ARGV[2]) end
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: record, lock, opt-out flag. ARGV: token. Opt out, end the dialog and unlock in one round trip.
_STOP = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], '1')
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
return 1
"""

_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class PhoneBusy(Exception):
    """Another message from the same phone held the lock for longer than we wait."""


class LockLost(Exception):
    """Our lock expired before the save: the save was refused so no newer answer is overwritten."""


class Unreplicated(redis.exceptions.RedisError):
    """No replica acknowledged a confirm in time: a fail-over could lose its job, so it is not announced.

    The record was put back (where the primary still answers): the subscriber's next `1` confirms again, and the
    job, idempotent by dialog id, runs once however often it was enqueued.
    """


@dataclass
class Stored:
    """What Redis keeps per phone: the dialog session, the last message ids seen, the last replies."""

    dialog: Session | None
    seen: list[str]
    reply: list[str]

    @classmethod
    def decode(cls, raw: bytes | str) -> Stored:
        if not raw:
            return cls(None, [], [])
        data = json.loads(raw)
        return cls(load_session(data["d"]) if data.get("d") else None, data.get("s", []), data.get("r", []))

    def encode(self) -> str:
        if self.dialog is None and not self.seen:
            return ""
        return json.dumps(
            {
                "d": None if self.dialog is None else dump_session(self.dialog),
                "s": self.seen[-SEEN_KEPT:],
                "r": self.reply,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


@dataclass
class Gate:
    """What the first round trip of a step learned: the loaded record, or why the message stops here."""

    state: str  # "open" (lock held), "limited" (over the phone's limit, not locked)
    stored: Stored
    opted_out: bool
    notice: bool  # the first message over the limit in this window gets one notice
    global_over: bool


class PhoneStore:
    """The one owner of a phone's keys: lock and load (with the limits), save and unlock, opt-out, counters."""

    def __init__(
        self, client: redis.Redis, ttl_seconds: int, lock_seconds: int, prefix: str = PREFIX, wait_ms: int = 0
    ) -> None:
        self.client, self.ttl, self.lock_ms, self.prefix = client, ttl_seconds, lock_seconds * 1000, prefix
        self.wait_ms = wait_ms  # > 0 (Sentinel): a save with jobs ends with WAIT 1 wait_ms in its round trip
        self._enter = client.register_script(_ENTER)
        self._commit = client.register_script(_COMMIT)
        self._commit_undoable = client.register_script(_COMMIT_UNDOABLE)
        self._undo = client.register_script(_UNDO)
        self._release = client.register_script(_RELEASE)
        self._stop = client.register_script(_STOP)
        self._count = client.register_script(_COUNT)

    def key(self, phone: str, name: str) -> str:
        """A key of this phone, in its hash slot: s, lock, rate, inquire or optout."""
        return f"{self.prefix}:{{{phone}}}:{name}"

    def keys(self, phone: str) -> list[str]:
        """Every key this store may keep for one phone."""
        return self._gate_keys(phone) + [self.key(phone, "inquire"), self.key(phone, "undo")]

    def _gate_keys(self, phone: str) -> list[str]:
        """KEYS of the lock-and-load script, in its order: record, lock, phone counter, opt-out flag."""
        return [self.key(phone, name) for name in ("s", "lock", "rate", "optout")]

    def global_key(self, now: float) -> str:
        """All phones' counter of one second: another slot (fine on one Redis or Sentinel, what Kontor runs on)."""
        return f"{self.prefix}:rate:global:{int(now)}"

    def enter(self, phone: str, token: str, per_minute: int, per_second: int) -> Gate:
        """Count the message (phone and global windows), then lock and load: one script, one round trip."""
        keys = self._gate_keys(phone) + [self.global_key(time.time())]
        state, raw, opted, n, count = self._enter(
            keys=keys, args=[token, self.lock_ms, 1, per_minute, PHONE_WINDOW, GLOBAL_WINDOW + 1]
        )
        gate = Gate(
            "limited" if state == 2 else "open",
            Stored.decode(raw),
            bool(opted),
            n == per_minute + 1,
            count > per_second,
        )
        if state == 0:
            gate.stored, gate.opted_out = self._wait(phone, token, self.lock_ms / 1000)
        return gate

    def begin(self, phone: str, token: str, wait_seconds: float | None = None) -> Stored:
        """Take the phone's lock and load its record without counting, waiting while another message holds it."""
        return self._wait(phone, token, self.lock_ms / 1000 if wait_seconds is None else wait_seconds)[0]

    def _wait(self, phone: str, token: str, wait_seconds: float) -> tuple[Stored, bool]:
        """The lock-and-load script again, counting nothing, until the lock is ours or the wait is over."""
        deadline, delay = time.monotonic() + wait_seconds, 0.005
        while True:
            state, raw, opted, _, _ = self._enter(keys=self._gate_keys(phone), args=[token, self.lock_ms, 0, 0, 0, 0])
            if state == 1:
                return Stored.decode(raw), bool(opted)
            if time.monotonic() > deadline:
                raise PhoneBusy(phone)
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def commit(
        self, phone: str, token: str, stored: Stored, before: Callable[[redis.client.Pipeline], object] | None = None
    ) -> None:
        """Save (or delete, when the dialog ended) and unlock, only if we still hold the lock.

        `before` adds commands (the dialog's effects: the confirmed request's push) that travel ahead of the save
        in the same round trip; with `wait_ms` the round trip ends with WAIT, and without a replica's
        acknowledgement the save is undone and Unreplicated raised (the caller answers "send it again").
        """
        keys = [self.key(phone, "s"), self.key(phone, "lock")]
        args: list[str | int] = [token, stored.encode(), self.ttl]
        if before is None:
            saved = self._commit(keys=keys, args=args)
        elif self.wait_ms:
            saved = self._commit_replicated(before, keys + [self.key(phone, "undo")], args)
        else:
            saved = int(self._commit_after(before, self._commit, keys, args)[-1])
        if not saved:
            raise LockLost(phone)

    def _commit_replicated(
        self, before: Callable[[redis.client.Pipeline], object], keys: list[str], args: list[str | int]
    ) -> int:
        """The save with the jobs, then WAIT 1 in the same round trip; undone when no replica acknowledged it."""
        saved, acknowledged = self._commit_after(before, self._commit_undoable, keys, args, wait=True)[-2:]
        if saved and int(acknowledged) < 1:
            self._undo(keys=keys, args=[args[1], self.ttl])
            raise Unreplicated(f"no replica acknowledged the confirm within {self.wait_ms} ms")
        return int(saved)

    def _commit_after(
        self,
        before: Callable[[redis.client.Pipeline], object],
        script: Script,
        keys: list[str],
        args: list[str | int],
        wait: bool = False,
    ) -> list[Any]:  # the replies of every command: the caller's, the save's, WAIT's
        """One pipeline: the caller's commands, the save by SHA (loaded again if Redis restarted)[, WAIT]."""
        for attempt in (0, 1):
            pipe = self.client.pipeline(transaction=False)
            before(pipe)
            pipe.evalsha(script.sha, len(keys), *keys, *args)
            if wait:
                pipe.execute_command("WAIT", 1, self.wait_ms)  # type: ignore[no-untyped-call]  # redis-py: untyped
            try:
                return list(pipe.execute())
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                self.client.script_load(script.script)
        raise AssertionError("unreachable")

    def release(self, phone: str, token: str) -> None:
        """Unlock without saving, only if the lock is still ours."""
        self._release(keys=[self.key(phone, "lock")], args=[token])

    def stop(self, phone: str, token: str) -> None:
        """STOP with the lock held: opt out, end the dialog and unlock, only while the lock is ours."""
        if not self._stop(keys=[self.key(phone, name) for name in ("s", "lock", "optout")], args=[token]):
            raise LockLost(phone)

    def opt_out(self, phone: str) -> None:
        """STOP from a phone over its limit (no lock held): only the flag; the dialog expires by itself."""
        self.client.set(self.key(phone, "optout"), "1")

    def start(self, phone: str) -> None:
        """START: unsolicited SMS may go to this phone again."""
        self.client.delete(self.key(phone, "optout"))

    def opted_out(self, phone: str) -> bool:
        """Checked by the outbox before every unsolicited SMS."""
        return bool(self.client.exists(self.key(phone, "optout")))

    def opted_out_many(self, phones: list[str]) -> list[bool]:
        """The same check for a batch's SMS, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for phone in phones:
            pipe.exists(self.key(phone, "optout"))
        return [bool(n) for n in pipe.execute()]

    def inquire_allowed(self, phone: str, per_hour: int) -> tuple[bool, bool]:
        """(allowed, first refusal) for an INQUIRE with a tracking number: guessing numbers is slow and noticed."""
        n = int(self._count(keys=[self.key(phone, "inquire")], args=[INQUIRE_WINDOW]))
        return n <= per_hour, n == per_hour + 1

    def peek(self, phone: str) -> Stored:
        """Read without locking (tests and operators)."""
        return Stored.decode(self.client.get(self.key(phone, "s")) or "")
