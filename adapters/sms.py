"""Outbound SMS: Twilio's REST client (optionally at another base URL), or the local outbox."""
from __future__ import annotations

from typing import Any, Protocol

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
PERMANENT_CODES = {21211, 21214, 21408, 21610, 21612, 21614}


class PermanentSendError(Exception):
    """The gateway refused this message for good (bad number, opted out): do not retry."""


class SmsSender(Protocol):
    name: str

    def send(self, to: str, body: str) -> str:
        """Send one SMS; returns the provider's message id. Raises PermanentSendError or a transient error."""


class BaseUrlHttpClient(TwilioHttpClient):
    """twilio's own HTTP client, pointed at another base URL (a regional edge, a test stand-in)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


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
            if exc.code in PERMANENT_CODES or (400 <= exc.status < 500 and exc.status != 429):
                raise PermanentSendError(f"{exc.status} {exc.code}: {exc.msg}") from exc
            raise


class OutboxSender:
    """No Twilio account: the message stays in the SQL outbox, where `kontor phone` shows it."""
    name = "outbox"

    def send(self, to: str, body: str) -> str:
        return "local"
