"""The one clock: Tehran local time and UTC are read here only, so a test can pin it and the sandbox follows it.

It lives in adapters/ because the system clock is an outside system like the others: the gateway and the sandbox
both import it, and dialogs/ never does (it gets `now` passed in). KONTOR_CLOCK_SHIFT_DAYS (tests only) moves the
clock of every Kontor process that inherits it, e.g. a year ahead to prove that no test depends on its day.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

TEHRAN = ZoneInfo("Asia/Tehran")
SHIFT_VARIABLE = "KONTOR_CLOCK_SHIFT_DAYS"


def _system_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Clock:
    """Reads an aware UTC instant from `source`, moved by `shift`, and gives it in the forms Kontor uses."""

    source: Callable[[], datetime] = _system_utc
    shift: timedelta = timedelta(0)

    @classmethod
    def from_environment(cls) -> Clock:
        """The system clock, moved by KONTOR_CLOCK_SHIFT_DAYS when a test sets it."""
        return cls(shift=timedelta(days=float(os.environ.get(SHIFT_VARIABLE) or 0)))

    @classmethod
    def fixed(cls, at: datetime) -> Clock:
        """A clock that always reads `at` (naive = UTC), for tests."""
        instant = at if at.tzinfo else at.replace(tzinfo=UTC)
        return cls(lambda: instant)

    def now(self) -> datetime:
        """The aware instant."""
        return self.source() + self.shift

    def utcnow(self) -> datetime:
        """Naive UTC to the second: what the database columns hold."""
        return self.now().astimezone(UTC).replace(tzinfo=None, microsecond=0)

    def tehran_now(self) -> datetime:
        """Aware Tehran local time to the second: what the dialog sees as `now`."""
        return self.now().astimezone(TEHRAN).replace(microsecond=0)

    def tehran_today(self) -> date:
        """The subscriber's calendar day."""
        return self.tehran_now().date()


SYSTEM = Clock.from_environment()


def utcnow() -> datetime:
    """The system clock's naive UTC."""
    return SYSTEM.utcnow()


def tehran_now() -> datetime:
    """The system clock's Tehran local time."""
    return SYSTEM.tehran_now()


def tehran_today() -> date:
    """The system clock's Tehran calendar day."""
    return SYSTEM.tehran_today()


def local_date(utc_naive: datetime) -> date:
    """The Tehran calendar day of a stored (naive UTC) timestamp."""
    return utc_naive.replace(tzinfo=UTC).astimezone(TEHRAN).date()
