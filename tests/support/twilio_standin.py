"""A local stand-in for Twilio's Messages API, so twilio's own REST client is exercised for real."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class TwilioStandIn:
    account_sid: str
    auth_token: str
    messages: list[dict[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # HTTP statuses to answer before succeeding
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
        if request.method != "POST" or request.path != path:
            return Response(
                json.dumps({"code": 20404, "message": "not found", "status": 404}), 404, content_type="application/json"
            )
        if not self._authorised(request):
            return Response(
                json.dumps({"code": 20003, "message": "Authenticate", "status": 401}),
                401,
                content_type="application/json",
            )
        with self.lock:
            if self.fail_next:
                status = self.fail_next.pop(0)
                return Response(
                    json.dumps({"code": 20500 if status >= 500 else 21610, "message": "injected", "status": status}),
                    status,
                    content_type="application/json",
                )
            sid = f"SM{next(self._ids):032d}"
            self.messages.append(
                {"To": request.form["To"], "From": request.form["From"], "Body": request.form["Body"], "sid": sid}
            )
        body = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": request.form["To"],
            "from": request.form["From"],
            "body": request.form["Body"],
            "status": "queued",
        }
        return Response(json.dumps(body), 201, content_type="application/json")
