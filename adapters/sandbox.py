"""One local Flask app standing in for all three outside systems, on shipped demo data, with fault injection."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from adapters.cis import BadRequest, Conflict, SandboxSubscriberSystem, meter_to_json

if TYPE_CHECKING:
    from sms_gateway.settings import Settings

DATA = Path(__file__).parent / "data"
FAULTS = "kontor_sandbox_faults"


@dataclass
class Faults:
    """Fault injection, adjustable while the sandbox runs: added latency, share of 503 answers."""

    latency_ms: int
    failure_rate: float
    rng: Callable[[], float] = random.random
    requests_seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inject(self) -> Response | None:
        """Delay every answer, and turn the configured share of them into 503."""
        with self._lock:
            self.requests_seen += 1
            fail = self.rng() < self.failure_rate
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        return _error(503, "unavailable") if fail else None


def _error(status: int, code: str) -> Response:
    """A JSON error body, the same shape for every endpoint."""
    response = jsonify({"error": code})
    response.status_code = status
    return response


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return data


def create_sandbox_app(settings: Settings, *, rng: Callable[[], float] | None = None) -> Flask:
    """The subscriber system, civil registry and mobile ownership under their URL prefixes."""
    if settings.tariff is None:
        raise ValueError("the sandbox bills by the `tariff` settings section: add it to the config")
    app = Flask("kontor_sandbox")
    faults = Faults(settings.sandbox.latency_ms, settings.sandbox.failure_rate, rng or random.random)
    app.extensions[FAULTS] = faults
    app.before_request(faults.inject)
    app.register_error_handler(HTTPException, lambda exc: _error(exc.code or 500, exc.name.lower().replace(" ", "_")))
    _subscriber_routes(app, SandboxSubscriberSystem(DATA / "demo_subscribers.yaml", settings.tariff))
    _identity_routes(app, _load("civil_registry.yaml")["persons"], _load("mobile_ownership.yaml")["owners"])
    return app


def _subscriber_routes(app: Flask, cis: SandboxSubscriberSystem) -> None:
    """GET a bill's meter; POST an out-of-cycle request."""

    @app.get("/subscriber-system/bills/<bill_id>/meter")
    def meter(bill_id: str) -> Any:
        found = cis.meter(bill_id)
        return jsonify(meter_to_json(found)) if found else _error(404, "unknown_bill")

    @app.post("/subscriber-system/bills/<bill_id>/out-of-cycle")
    def out_of_cycle(bill_id: str) -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or str(body.get("bill_id")) != bill_id:
            return _error(400, "body_must_be_the_request_of_this_bill")
        try:
            answer = cis.submit(body)
        except LookupError:
            return _error(404, "unknown_bill")
        except BadRequest as exc:
            return _error(400, str(exc))
        except Conflict as exc:
            return _error(409, str(exc))
        return jsonify(asdict(answer))

    @app.post("/subscriber-system/bills/<bill_id>/out-of-cycle/<tracking>/issue")
    def issue(bill_id: str, tracking: str) -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or str(body.get("bill_id")) != bill_id or body.get("tracking_number") != tracking:
            return _error(400, "body_must_be_the_request_of_this_bill")
        try:
            answer = cis.issue_bill(body)
        except LookupError:
            return _error(404, "unknown_bill")
        except BadRequest as exc:
            return _error(400, str(exc))
        return jsonify(asdict(answer))


def _identity_routes(app: Flask, persons: dict[str, Any], owners: dict[str, str]) -> None:
    """The civil registry's person lookup and the mobile-ownership match."""

    @app.get("/civil-registry/persons/<national_id>")
    def person(national_id: str) -> Any:
        entry = persons.get(national_id)
        return jsonify({"found": entry is not None, "alive": bool(entry and entry.get("alive"))})

    @app.get("/mobile-ownership/<mobile>/owner/<national_id>")
    def owner(mobile: str, national_id: str) -> Any:
        return jsonify({"match": owners.get(mobile) == national_id})


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1, so the clients' pooled connections are kept, as a real system's load balancer would."""

    protocol_version = "HTTP/1.1"


class RunningSandbox:
    """A sandbox served by werkzeug in a background thread; tests and `kontor up` stop it with stop()."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        self.app = app
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=KeepAliveHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="kontor-sandbox", daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.server.host}:{self.port}"

    @property
    def faults(self) -> Faults:
        faults: Faults = self.app.extensions[FAULTS]
        return faults

    def stop(self) -> None:
        """Stop accepting, close the socket and wait for the serving thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def start(settings: Settings, *, port: int | None = None, rng: Callable[[], float] | None = None) -> RunningSandbox:
    """Serve the sandbox in this process (port 0 = any free port, see RunningSandbox.port)."""
    app = create_sandbox_app(settings, rng=rng)
    return RunningSandbox(app, settings.sandbox.host, settings.sandbox.port if port is None else port)


def serve(settings: Settings) -> None:
    """`kontor sandbox`: serve in the foreground until Ctrl-C or SIGTERM."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(
        settings.sandbox.host,
        settings.sandbox.port,
        create_sandbox_app(settings),
        threaded=True,
        request_handler=KeepAliveHandler,
    )
    print(f"Kontor sandbox: {settings.sandbox_url}/subscriber-system, /civil-registry, /mobile-ownership", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def wait_until_up(host: str, port: int, timeout_seconds: float = 10.0) -> bool:
    """Whether something accepts connections there within the timeout (for `kontor up` before web/worker)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
