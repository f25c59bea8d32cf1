"""The Twilio gateway: its REST client (optionally at another base URL), its sender number, its media URLs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from adapters.http import POOL_SIZE, pooled_session
from adapters.senders import (
    AccountError,
    MediaAccess,
    PermanentSendError,
    TransientSendError,
    network_error,
)

if TYPE_CHECKING:
    from sms_gateway.settings import Settings

TWILIO_API = "https://api.twilio.com"
# 21211 invalid To, 21214 not reachable, 21408 region not enabled, 21610 opted out (STOP), 21612 no route,
# 21614 not a mobile number: the same message would fail again.
PERMANENT_CODES = {21211, 21214, 21408, 21610, 21612, 21614}
# 20003 authenticate (wrong or rotated token), 20005 account not active, 20006 access denied, 20404 no such
# account resource, 21212/21606 our From number is not ours to send from: the account, not the message.
ACCOUNT_CODES = {20003, 20005, 20006, 20404, 21212, 21606}
FIND_LIMIT = 200  # messages to one number since the send began: a handful in practice


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """twilio's own HTTP client, pointed at another base URL (a regional edge, a test stand-in)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def classify(exc: TwilioRestException) -> Exception:
    """Transient for HTTP 429 and 5xx; an account error (401/403, an account code) holds the message; permanent
    for a known message code or any other 4xx."""
    status = exc.status or 0
    if status == 429 or status >= 500:
        return TransientSendError(f"{status} {exc.code}: {exc.msg}")
    if status in (401, 403) or exc.code in ACCOUNT_CODES:
        return AccountError(f"twilio {status} {exc.code}: {exc.msg}")
    if exc.code in PERMANENT_CODES or 400 <= status < 500:
        return PermanentSendError(f"{status} {exc.code}: {exc.msg}")
    return TransientSendError(f"{status} {exc.code}: {exc.msg}")


class TwilioSender:
    """Sends through Twilio's REST API; MMS media are fetched from Twilio with the same account."""

    name = "twilio"

    def __init__(
        self, account_sid: str, auth_token: str, from_number: str, api_base_url: str = "", pool: int = POOL_SIZE
    ) -> None:
        http = BaseUrlHttpClient(api_base_url, timeout=10) if api_base_url else TwilioHttpClient(timeout=10)
        http.session = pooled_session(pool)  # a batch's SMS go out concurrently: keep that many connections, not 6
        self.client = Client(account_sid, auth_token, http_client=http)
        self.number = from_number
        prefixes = tuple(sorted(p.rstrip("/") + "/" for p in {TWILIO_API, api_base_url} if p))
        self.media = MediaAccess(prefixes, (account_sid, auth_token))  # MMS media: Twilio's URLs, its credentials

    def send(self, to: str, body: str, local_id: str = "") -> str:
        try:
            return str(self.client.messages.create(to=to, from_=self.number, body=body).sid)
        except TwilioRestException as exc:
            raise classify(exc) from exc
        except (requests.RequestException, TwilioException, OSError) as exc:
            raise network_error(exc) from exc

    def find(self, to: str, body: str, since: datetime, local_id: str = "") -> str | None:
        """Twilio's message list for this number from ours, sent since `since`, matched by the body (Twilio keeps
        no id of ours); the newest match's sid, or None."""
        try:
            listed = self.client.messages.list(to=to, from_=self.number, date_sent_after=since, limit=FIND_LIMIT)
        except (TwilioRestException, requests.RequestException, TwilioException, OSError) as exc:
            raise TransientSendError(f"cannot list messages: {type(exc).__name__}: {exc}") from exc
        found = next((str(m.sid) for m in listed if m.body == body), None)
        return found if found is not None else self._queued(to, body, since)

    def _queued(self, to: str, body: str, since: datetime) -> str | None:
        """A message Twilio accepted but has not sent yet has no date_sent: the newest few, by date_created."""
        try:
            listed = self.client.messages.list(to=to, from_=self.number, limit=20)
        except (TwilioRestException, requests.RequestException, TwilioException, OSError) as exc:
            raise TransientSendError(f"cannot list messages: {exc}") from exc
        fresh = (m for m in listed if m.date_sent is None and m.date_created is not None and m.date_created >= since)
        return next((str(m.sid) for m in fresh if m.body == body), None)


def from_settings(settings: Settings) -> TwilioSender:
    """The sender for `outbound.gateway: twilio`; refuses to start without the account's credentials."""
    t = settings.twilio
    if not (t.account_sid and t.auth_token):
        raise ValueError("outbound.gateway is twilio: set twilio.account_sid and twilio.auth_token")
    pool = max(POOL_SIZE, settings.outbound.concurrency + settings.worker.followup_concurrency)
    return TwilioSender(t.account_sid, t.auth_token, t.from_number, t.api_base_url, pool)
