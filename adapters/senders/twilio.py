"""The Twilio gateway: its REST client (optionally at another base URL), its sender number, its media URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from adapters.senders import MediaAccess, PermanentSendError, TransientSendError

if TYPE_CHECKING:
    from sms_gateway.settings import Settings

TWILIO_API = "https://api.twilio.com"
# 21211 invalid To, 21214 not reachable, 21408 region not enabled, 21610 opted out (STOP), 21612 no route,
# 21614 not a mobile number: the same message would fail again.
PERMANENT_CODES = {21211, 21214, 21408, 21610, 21612, 21614}


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
    """Transient for HTTP 429 and 5xx whatever the code; permanent for a known code or any other 4xx."""
    status = exc.status or 0
    if status == 429 or status >= 500:
        return TransientSendError(f"{status} {exc.code}: {exc.msg}")
    if exc.code in PERMANENT_CODES or 400 <= status < 500:
        return PermanentSendError(f"{status} {exc.code}: {exc.msg}")
    return TransientSendError(f"{status} {exc.code}: {exc.msg}")


class TwilioSender:
    """Sends through Twilio's REST API; MMS media are fetched from Twilio with the same account."""

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, from_number: str, api_base_url: str = "") -> None:
        http = BaseUrlHttpClient(api_base_url, timeout=10) if api_base_url else TwilioHttpClient(timeout=10)
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
            raise TransientSendError(f"network: {type(exc).__name__}: {exc}") from exc


def from_settings(settings: Settings) -> TwilioSender:
    """The sender for `outbound.gateway: twilio`; refuses to start without the account's credentials."""
    t = settings.twilio
    if not (t.account_sid and t.auth_token):
        raise ValueError("outbound.gateway is twilio: set twilio.account_sid and twilio.auth_token")
    return TwilioSender(t.account_sid, t.auth_token, t.from_number, t.api_base_url)
