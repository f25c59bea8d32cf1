"""A small JSON-over-HTTP client base for the outside systems: timeouts, retries with backoff, a circuit breaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import requests

from adapters import telemetry

Clock = Callable[[], float]
Sleep = Callable[[float], None]
MAX_BACKOFF_SECONDS = 5.0
POOL_SIZE = 32  # kept connections per host: >= server.threads (at most 32), so no thread opens a fresh one


class OutsideSystems(Protocol):
    """The `outside_systems` settings a client needs (a Protocol, so adapters do not import sms_gateway)."""

    @property
    def timeout_seconds(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def breaker_failures(self) -> int: ...
    @property
    def breaker_reset_seconds(self) -> float: ...


class OutsideSystemUnavailable(Exception):
    """Transient: the system did not answer (timeouts, 5xx, open breaker); the worker retries the job later."""

    def __init__(self, system: str, detail: str = "") -> None:
        super().__init__(f"{system} unavailable" + (f": {detail}" if detail else ""))
        self.system = system


class OutsideSystemError(Exception):
    """Permanent: the system refused the call (a 4xx or a malformed answer), so retrying cannot help."""

    def __init__(self, system: str, status: int, detail: str = "") -> None:
        super().__init__(f"{system} answered {status}" + (f": {detail}" if detail else ""))
        self.system = system
        self.status = status


class CircuitBreaker:
    """Stops calling a system after N consecutive failures, so a dead system costs no timeouts; thread-safe."""

    def __init__(self, failures: int, reset_seconds: float, clock: Clock = time.monotonic) -> None:
        self.threshold = max(1, failures)
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """closed, open or half_open, for tests and logs."""
        with self._lock:
            if self.opened_at is None:
                return "closed"
            return "half_open" if self.trial or self._reset_due() else "open"

    def _reset_due(self) -> bool:
        return self.opened_at is not None and self.clock() - self.opened_at >= self.reset_seconds

    def allow(self) -> bool:
        """Whether a call may go out now: always when closed, one trial call when the reset time has passed."""
        with self._lock:
            if self.opened_at is None:
                return True
            if self.trial or not self._reset_due():
                return False
            self.trial = True
            return True

    def success(self) -> None:
        """The system answered: close the breaker."""
        with self._lock:
            self.failures, self.opened_at, self.trial = 0, None, False

    def failure(self) -> None:
        """The system did not answer: count it, and (re)open after the threshold or a failed trial."""
        with self._lock:
            self.failures += 1
            if self.trial or self.failures >= self.threshold:
                self.opened_at, self.trial = self.clock(), False


def pooled_session(pool_size: int = POOL_SIZE) -> requests.Session:
    """A Session keeping up to pool_size connections per host (requests keeps 10, and drops the rest after use)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class JsonClient:
    """requests.Session-based JSON client that turns every outside failure into one of two exceptions."""

    system = "outside_system"

    def __init__(
        self,
        base_url: str,
        outside: OutsideSystems,
        *,
        session: requests.Session | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        backoff_seconds: float = 0.2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = outside.timeout_seconds
        self.retries = max(0, outside.retries)
        self.breaker = CircuitBreaker(outside.breaker_failures, outside.breaker_reset_seconds, clock)
        self.session = session or pooled_session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "kontor"})
        self.sleep = sleep
        self.backoff_seconds = backoff_seconds

    def get_json(self, path: str, *, none_on_404: bool = False) -> dict[str, Any] | None:
        """GET a JSON object; a 404 means "no such thing" where the contract says so."""
        return self._call("GET", path, None, none_on_404)

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON object and return the JSON object answered."""
        answer = self._call("POST", path, body, False)
        assert answer is not None
        return answer

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def _call(self, method: str, path: str, body: Any, none_on_404: bool) -> dict[str, Any] | None:
        """One logical call: up to 1 + retries attempts, each gated and recorded by the breaker (and counted)."""
        try:
            return self._attempts(method, path, body, none_on_404)
        except OutsideSystemError:
            telemetry.error(self.system, "refused")
            raise
        finally:
            telemetry.breaker(self.system, self.breaker.state)

    def _attempts(self, method: str, path: str, body: Any, none_on_404: bool) -> dict[str, Any] | None:
        detail = ""
        for attempt in range(self.retries + 1):
            if not self.breaker.allow():
                telemetry.error(self.system, "breaker_open")
                raise OutsideSystemUnavailable(self.system, f"circuit breaker open {detail}".strip())
            if attempt:
                self.sleep(min(MAX_BACKOFF_SECONDS, self.backoff_seconds * 2 ** (attempt - 1)))
            started = time.perf_counter()
            try:
                response = self.session.request(method, self.base_url + path, json=body, timeout=self.timeout)
            except requests.RequestException as exc:
                telemetry.attempt(self.system, time.perf_counter() - started)
                telemetry.error(self.system, "network")
                detail = type(exc).__name__
                self.breaker.failure()
                continue
            except Exception:
                self.breaker.failure()  # never leave a half-open trial claimed forever
                raise
            telemetry.attempt(self.system, time.perf_counter() - started)
            if response.status_code == 429 or response.status_code >= 500:
                telemetry.error(self.system, "server")
                detail = f"HTTP {response.status_code}"
                self.breaker.failure()
                continue
            self.breaker.success()
            return self._answer(response, none_on_404)
        raise OutsideSystemUnavailable(self.system, detail)

    def _answer(self, response: requests.Response, none_on_404: bool) -> dict[str, Any] | None:
        """Check the answer against the contract: a JSON object on 2xx, a 404 only where allowed."""
        if response.status_code == 404 and none_on_404:
            return None
        if response.status_code >= 300:
            raise OutsideSystemError(self.system, response.status_code, response.text[:200])
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise OutsideSystemError(self.system, response.status_code, "answer is not a JSON object")
        return answer
