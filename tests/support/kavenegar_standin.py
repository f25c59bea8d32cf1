"""A local stand-in for Kavenegar's REST API (send.json, statuslocalmessageid.json) on loopback, with failures
to inject, so the Kavenegar sender is exercised over real HTTP against the documented JSON."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

STATUS_TEXT = {200: "تایید شد", 401: "حساب کاربری غیرفعال شده است", 411: "دریافت کننده نامعتبر است"}


def national(phone: str) -> str:
    """The receptor Kontor sends for an E.164 phone (09… for Iran)."""
    return "0" + phone[3:] if phone.startswith("+98") else phone


@dataclass
class KavenegarStandIn:
    api_key: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # return.status codes to answer before succeeding (418...)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._ids = itertools.count(8792343)
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> KavenegarStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def to(self, phone: str) -> list[str]:
        """The bodies sent to this phone (E.164 or 09…), in order."""
        with self.lock:
            return [m["message"] for m in self.messages if m["receptor"] == national(phone)]

    def wait_for(self, phone: str, count: int, timeout: float = 30) -> list[str]:
        """The bodies sent to this phone once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(sent := self.to(phone)) >= count:
                return sent
            time.sleep(0.05)
        raise AssertionError(f"no SMS #{count} to {phone} at Kavenegar; got {self.to(phone)}")

    @staticmethod
    def _answer(status: int, entries: list[dict[str, Any]] | None = None) -> Response:
        body = {"return": {"status": status, "message": STATUS_TEXT.get(status, "خطا")}, "entries": entries}
        return Response(json.dumps(body, ensure_ascii=False), status, content_type="application/json; charset=utf-8")

    @Request.application
    def _app(self, request: Request) -> Response:
        with self.lock:
            self.calls += 1
            params = request.values
            prefix = f"/v1/{self.api_key}/sms/"
            if not request.path.startswith("/v1/") or not request.path.endswith(".json"):
                return self._answer(404)
            if not request.path.startswith(prefix):
                return self._answer(401)
            method = request.path[len(prefix) : -len(".json")]
            if method == "statuslocalmessageid":
                return self._status(params.get("localid", ""))
            if method != "send":
                return self._answer(404)
            if self.fail_next:
                return self._answer(self.fail_next.pop(0))
            if not params.get("receptor", "").startswith("0") or not params.get("message"):
                return self._answer(411 if params.get("message") else 414)
            entry = {
                "messageid": next(self._ids),
                "message": params["message"],
                "status": 1,
                "statustext": "در صف ارسال",
                "sender": params.get("sender", ""),
                "receptor": params["receptor"],
                "date": int(time.time()),
                "cost": 120,
                "localid": params.get("localid", ""),
            }
            self.messages.append(entry)
            return self._answer(200, [entry])

    def _status(self, localid: str) -> Response:
        """statuslocalmessageid: the message sent under this localid, or messageid 0 with status 100 (unknown)."""
        for m in self.messages:
            if localid and m["localid"] == localid:
                return self._answer(200, [{"messageid": m["messageid"], "localid": localid, "status": 10}])
        return self._answer(200, [{"messageid": 0, "localid": localid, "status": 100, "statustext": "نامعتبر"}])
