"""Per-phone dialog sessions in Redis: one round trip to lock and load, one to save and unlock.

Keys share the hash tag {phone}, so one phone's keys stay in one Redis Cluster slot and Lua may touch them all.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import redis

from dialogs.model import Session
from storage.codec import dump_session, load_session

_BEGIN = """
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, ''} end
return {1, redis.call('GET', KEYS[1]) or ''}
"""

_COMMIT = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
redis.call('DEL', KEYS[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class PhoneBusy(Exception):
    """Another message from the same phone held the lock for longer than we wait."""


class LockLost(Exception):
    """Our lock expired before the save: the save was refused so no newer answer is overwritten."""


@dataclass
class Stored:
    """What Redis keeps per phone: the dialog session, the last message ids seen, the last replies."""
    dialog: Session | None
    seen: list[str]
    reply: list[str]

    @classmethod
    def decode(cls, raw: bytes | str) -> "Stored":
        if not raw:
            return cls(None, [], [])
        data = json.loads(raw)
        return cls(load_session(data["d"]) if data.get("d") else None, data.get("s", []), data.get("r", []))

    def encode(self) -> str:
        if self.dialog is None and not self.seen:
            return ""
        return json.dumps({"d": None if self.dialog is None else dump_session(self.dialog), "s": self.seen[-4:], "r": self.reply},
                          ensure_ascii=False, separators=(",", ":"))


class SessionStore:
    """Lock, load, save and unlock one phone's dialog atomically."""

    def __init__(self, client: redis.Redis, ttl_seconds: int, lock_seconds: int, prefix: str = "kontor") -> None:
        self.client, self.ttl, self.lock_ms, self.prefix = client, ttl_seconds, lock_seconds * 1000, prefix
        self._begin = client.register_script(_BEGIN)
        self._commit = client.register_script(_COMMIT)
        self._release = client.register_script(_RELEASE)

    def _keys(self, phone: str) -> list[str]:
        return [f"{self.prefix}:{{{phone}}}:s", f"{self.prefix}:{{{phone}}}:lock"]

    def begin(self, phone: str, token: str, wait_seconds: float | None = None) -> Stored:
        """Take the phone's lock and load its session, waiting while another message holds it."""
        deadline = time.monotonic() + (self.lock_ms / 1000 if wait_seconds is None else wait_seconds)
        delay = 0.005
        while True:
            ok, raw = self._begin(keys=self._keys(phone), args=[token, self.lock_ms])
            if ok:
                return Stored.decode(raw)
            if time.monotonic() > deadline:
                raise PhoneBusy(phone)
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def commit(self, phone: str, token: str, stored: Stored,
               before: Callable[[redis.client.Pipeline], object] | None = None) -> None:
        """Save (or delete, when the dialog ended) and unlock, only if we still hold the lock.

        `before` adds commands (the dialog's jobs) that travel ahead of the save in the same round trip.
        """
        args = [token, stored.encode(), self.ttl]
        saved = self._commit(keys=self._keys(phone), args=args) if before is None else \
            self._commit_after(before, self._keys(phone), args)
        if not saved:
            raise LockLost(phone)

    def _commit_after(self, before: Callable[[redis.client.Pipeline], object], keys: list[str],
                      args: list[Any]) -> int:
        """One pipeline: the caller's commands, then the save by SHA (loaded again if Redis restarted)."""
        for attempt in (0, 1):
            pipe = self.client.pipeline(transaction=False)
            before(pipe)
            pipe.evalsha(self._commit.sha, len(keys), *keys, *args)
            try:
                return pipe.execute()[-1]
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                self.client.script_load(_COMMIT)
        raise AssertionError("unreachable")

    def release(self, phone: str, token: str) -> None:
        self._release(keys=self._keys(phone)[1:], args=[token])

    def peek(self, phone: str) -> Stored:
        """Read without locking (tests and operators)."""
        return Stored.decode(self.client.get(self._keys(phone)[0]) or "")
