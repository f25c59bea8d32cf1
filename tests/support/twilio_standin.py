"""A local stand-in for Twilio's Messages API, so twilio's own REST client is exercised for real."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class TwilioStandIn:
    account_sid: str
    auth_token: str
    messages: list[dict[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # HTTP statuses to answer before succeeding
    refuse_until: float = 0.0  # time.monotonic() until which every send gets 401 / 20003 (a rotated token)
    on_accept: Callable[[dict[str, str]], None] | None = None  # called after a message is stored, before the answer
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path → (content, type), like MMS media
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> TwilioStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def to(self, number: str) -> list[str]:
        with self.lock:
            return [m["Body"] for m in self.messages if m["To"] == number]

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    def add_media(self, name: str, content: bytes, content_type: str) -> str:
        """Serve a file as Twilio serves MMS media (behind the account's credentials); returns its URL."""
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages/MM{name}/Media/ME{name}"
        self.media[path] = (content, content_type)
        return self.url + path

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.method == "GET" and request.path in self.media:
            if not self._authorised(request):
                return Response("", 401)
            content, kind = self.media[request.path]
            return Response(content, 200, content_type=kind)
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method not in ("GET", "POST") or request.path != path:
            return _error(404, 20404, "not found")
        if not self._authorised(request) or time.monotonic() < self.refuse_until:
            return _error(401, 20003, "Authenticate")
        return self._list(request) if request.method == "GET" else self._create(request)

    def _create(self, request: Request) -> Response:
        with self.lock:
            if self.fail_next:
                status = self.fail_next.pop(0)
                codes = {401: 20003, 403: 20003}
                return _error(status, 20500 if status >= 500 else codes.get(status, 21610), "injected")
            sid = f"SM{next(self._ids):032d}"
            message = {"To": request.form["To"], "From": request.form["From"], "Body": request.form["Body"], "sid": sid}
            message["at"] = datetime.now(UTC).isoformat()
            self.messages.append(message)
        if self.on_accept is not None:
            self.on_accept(message)
        return Response(json.dumps(_resource(self.account_sid, message)), 201, content_type="application/json")

    def _list(self, request: Request) -> Response:
        """GET Messages.json as Twilio answers it: To, From and DateSent / DateSent> / DateSent< filters (GMT
        dates, a time part ignored), newest first, one page with next_page_uri null."""
        args = request.args

        def kept(m: dict[str, str]) -> bool:
            sent = datetime.fromisoformat(m["at"]).date()
            return (
                args.get("To", m["To"]) == m["To"]
                and args.get("From", m["From"]) == m["From"]
                and all(test(sent, _day(args[key])) for key, test in _DATE_FILTERS.items() if key in args)
            )

        with self.lock:
            listed = [_resource(self.account_sid, m) for m in reversed(self.messages) if kept(m)]
        size = int(args.get("PageSize", 50))
        page = {
            "messages": listed[:size],
            "uri": request.full_path,
            "first_page_uri": request.full_path,
            "next_page_uri": None,
            "previous_page_uri": None,
            "page": 0,
            "page_size": size,
            "start": 0,
            "end": min(size, len(listed)) - 1,
        }
        return Response(json.dumps(page), 200, content_type="application/json")


_DATE_FILTERS: dict[str, Callable[[date, date], bool]] = {
    "DateSent": lambda sent, day: sent == day,
    "DateSent>": lambda sent, day: sent >= day,
    "DateSent<": lambda sent, day: sent <= day,
}


def _day(value: str) -> date:
    return date.fromisoformat(value[:10])


def _resource(account_sid: str, m: dict[str, str]) -> dict[str, object]:
    """A Message resource as Twilio's API returns it (RFC 2822 dates)."""
    at = format_datetime(datetime.fromisoformat(m["at"]))
    return {
        "sid": m["sid"],
        "account_sid": account_sid,
        "to": m["To"],
        "from": m["From"],
        "body": m["Body"],
        "status": "sent",
        "direction": "outbound-api",
        "date_created": at,
        "date_sent": at,
        "date_updated": at,
    }


def _error(status: int, code: int, message: str) -> Response:
    return Response(
        json.dumps({"code": code, "message": message, "status": status}), status, content_type="application/json"
    )
