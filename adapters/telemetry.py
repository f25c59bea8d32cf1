"""Prometheus series of the outside systems (latency, errors, breaker state), kept here so adapters need no
sms_gateway import. Multiprocess-safe: `kontor` sets PROMETHEUS_MULTIPROC_DIR before this module is imported."""

from __future__ import annotations

import atexit
import os

from prometheus_client import Counter, Gauge, Histogram, multiprocess

BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

OUTSIDE_SECONDS = Histogram(
    "kontor_outside_call_seconds",
    "duration of one HTTP attempt to an outside system, answered or not",
    ["system"],
    buckets=LATENCY_BUCKETS,
)
OUTSIDE_ERRORS = Counter(
    "kontor_outside_errors",
    "failed calls to an outside system by kind: network, server (5xx/429), refused (4xx/malformed), breaker_open",
    ["system", "kind"],
)
BREAKER_STATE = Gauge(
    "kontor_outside_breaker_state",
    "circuit breaker at the last call: 0 closed, 1 half_open, 2 open; the highest among live processes",
    ["system"],
    multiprocess_mode="livemax",
)


def attempt(system: str, seconds: float) -> None:
    """One HTTP attempt went out and came back (any status) or failed on the network."""
    OUTSIDE_SECONDS.labels(system).observe(seconds)


def error(system: str, kind: str) -> None:
    """One failure of `kind` (network, server, refused, breaker_open)."""
    OUTSIDE_ERRORS.labels(system, kind).inc()


def breaker(system: str, state: str) -> None:
    """The breaker's state after a call."""
    BREAKER_STATE.labels(system).set(BREAKER_STATES.get(state, 2))


@atexit.register
def _forget_live_gauges() -> None:
    """A process that ends cleanly takes its live gauges along (gunicorn's child_exit does it for workers)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        multiprocess.mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]  # prometheus_client's multiprocess module is unannotated
