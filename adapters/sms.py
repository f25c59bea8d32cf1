"""Outbound SMS: Twilio's REST client (optionally at another base URL), or the local outbox.

Errors are sorted for the caller: PermanentSendError (record failed, never retry) or TransientSendError
(raise so the job is retried with backoff: Twilio 429, 5xx, timeouts, refused connections).
"""
from __future__ import annotations

from typing import Any, Protocol

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
# 21211 invalid To, 21214 not reachable, 21408 region not enabled, 21610 opted out (STOP), 21612 no route,
# 21614 not a mobile number: the same message would fail again.
PERMANENT_CODES = {21211, 21214, 21408, 21610, 21612, 21614}


class PermanentSendError(Exception):
    """The gateway refused this message for good (bad number, opted out): do not retry."""


class TransientSendError(Exception):
    """The gateway is busy or unreachable now (429, 5xx, network): retry later with backoff."""


class SmsSender(Protocol):
    name: str

    def send(self, to: str, body: str) -> str:
        """Send one SMS; returns the provider's message id. Raises PermanentSendError or TransientSendError."""


class BaseUrlHttpClient(TwilioHttpClient):
    """twilio's own HTTP client, pointed at another base URL (a regional edge, a test stand-in)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


def classify(exc: TwilioRestException) -> Exception:
    """Transient for HTTP 429 and 5xx whatever the code; permanent for a known code or any other 4xx."""
    status = exc.status or 0
    if status == 429 or status >= 500:
        return TransientSendError(f"{status} {exc.code}: {exc.msg}")
    if exc.code in PERMANENT_CODES or 400 <= status < 500:
        return PermanentSendError(f"{status} {exc.code}: {exc.msg}")
    return TransientSendError(f"{status} {exc.code}: {exc.msg}")


class TwilioSender:
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, from_number: str, api_base_url: str = "") -> None:
        http = BaseUrlHttpClient(api_base_url, timeout=10) if api_base_url else TwilioHttpClient(timeout=10)
        self.client = Client(account_sid, auth_token, http_client=http)
        self.from_number = from_number

    def send(self, to: str, body: str) -> str:
        try:
            return self.client.messages.create(to=to, from_=self.from_number, body=body).sid
        except TwilioRestException as exc:
            raise classify(exc) from exc
        except (requests.RequestException, TwilioException, OSError) as exc:
            raise TransientSendError(f"network: {type(exc).__name__}: {exc}") from exc


class OutboxSender:
    """No Twilio account: the message stays in the SQL outbox, where `kontor phone` shows it."""
    name = "outbox"

    def send(self, to: str, body: str) -> str:
        return "local"
