"""Per-process Prometheus counters (messages in, dialogs, jobs), summed over every process by `kontor metrics`.

Imported only after `kontor` set PROMETHEUS_MULTIPROC_DIR (sms_gateway/cli.py), so each process writes its
own file there; outside `kontor` (tests in one process) they are plain in-memory counters."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Histogram

from adapters.http import OutsideSystemUnavailable
from dialogs.model import FinishRequest, Outcome, Session

log = logging.getLogger("kontor.metrics")
P = ParamSpec("P")
R = TypeVar("R")

IN_OUTCOMES = ("answered", "duplicate", "limited", "refused_signature", "try_again")
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0)

MESSAGES_IN = Counter("kontor_messages_in", "inbound messages by channel and outcome", ["channel", "outcome"])
DIALOGS_STARTED = Counter("kontor_dialogs_started", "dialogs begun with READ")
DIALOGS_CONFIRMED = Counter("kontor_dialogs_confirmed", "dialogs the subscriber confirmed (a request enqueued)")
DIALOGS_ABANDONED = Counter(
    "kontor_dialogs_abandoned", "dialogs ended unconfirmed: expired, cancelled or restarted", ["reason"]
)
JOB_SECONDS = Histogram(
    "kontor_job_seconds", "RQ job run time by function and result", ["function", "result"], buckets=JOB_BUCKETS
)


def message_in(channel: str, outcome: str) -> None:
    """One inbound message handled with `outcome` (one of IN_OUTCOMES)."""
    if outcome not in IN_OUTCOMES:
        raise ValueError(f"unknown inbound outcome {outcome!r}")
    _quietly(lambda: MESSAGES_IN.labels(channel or "none", outcome).inc())


def _quietly(count: Callable[[], None]) -> None:
    """A metric that cannot be written (its folder removed, a full disk) never costs a subscriber's message."""
    try:
        count()
    except OSError as exc:
        log.warning("metrics: could not count: %s", exc)


def dialog_events(before: Session | None, after: Outcome, now: datetime, idle_minutes: int) -> list[str]:
    """What one step did to the phone's dialog: "started", "confirmed", "abandoned:<reason>" (pure)."""
    events: list[str] = []
    kept = before is not None and after.session is not None and after.session.dialog_id == before.dialog_id
    if before is not None and not kept:
        if any(isinstance(effect, FinishRequest) for effect in after.effects):
            events.append("confirmed")
        elif now - before.last_active > timedelta(minutes=idle_minutes):
            events.append("abandoned:expired")
        else:
            events.append("abandoned:" + ("restarted" if after.session is not None else "cancelled"))
    if after.session is not None and not kept:
        events.append("started")
    return events


def dialog_step(before: Session | None, after: Outcome, now: datetime, idle_minutes: int) -> None:
    """Count the step's dialog events (after the step was saved)."""
    for event in dialog_events(before, after, now, idle_minutes):
        if event == "started":
            _quietly(DIALOGS_STARTED.inc)
        elif event == "confirmed":
            _quietly(DIALOGS_CONFIRMED.inc)
        else:
            reason = event.split(":", 1)[1]
            _quietly(functools.partial(lambda why: DIALOGS_ABANDONED.labels(why).inc(), reason))


def timed(job: Callable[P, R]) -> Callable[P, R]:
    """Decorate an RQ job function: its run time lands in kontor_job_seconds{function, result}."""

    @functools.wraps(job)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        started, result = time.perf_counter(), "error"
        try:
            value = job(*args, **kwargs)
            result = "ok"
            return value
        except OutsideSystemUnavailable:
            result = "unavailable"
            raise
        finally:  # a metrics file that cannot be written never fails the job or hides its own error
            seconds = time.perf_counter() - started
            _quietly(lambda: JOB_SECONDS.labels(job.__name__, result).observe(seconds))

    return run
