"""The Kavenegar gateway: its REST API (send.json, statuslocalmessageid.json) through a small `requests` client.

Kavenegar answers `{"return": {"status", "message"}, "entries": [...]}`; `return.status` (also the HTTP status of an
error) says what to do: 200 sent; 418 no credit, 451 too often, 5xx, network: retry; 401/403/407 our account is
refused: hold and retry loudly; 411, 412, 413, 422 (and any other 4xx): this message fails for good.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import requests

from adapters.http import POOL_SIZE, pooled_session
from adapters.senders import (
    AccountError,
    MediaAccess,
    PermanentSendError,
    TransientSendError,
    UncertainSendError,
    network_error,
)

if TYPE_CHECKING:
    from sms_gateway.settings import Settings

log = logging.getLogger("kontor.kavenegar")
TIMEOUT = (3.05, 10)  # connect, read: a worker never hangs on the provider
TRANSIENT = {418, 429, 451}  # no credit, rate, too often
ACCOUNT = {401, 403, 407}  # the key, an inactive account, an IP not allow-listed
NOT_FOUND = {100, 404, 411}  # statuslocalmessageid: no message with this local id


def classify(status: int, message: str = "") -> Exception | None:
    """None for 200; otherwise the error the outbox acts on, carrying Kavenegar's code."""
    if status == 200:
        return None
    text = f"kavenegar {status}: {message}".strip()
    if status in ACCOUNT:
        return AccountError(text)
    if status in TRANSIENT or status >= 500 or status < 400:
        return TransientSendError(text)
    return PermanentSendError(text)


def return_of(response: requests.Response) -> tuple[int, str, list[dict[str, Any]]]:
    """`return.status`, `return.message` and `entries` of an answer; a non-JSON answer is judged by its HTTP status."""
    try:
        body = response.json()
        ret = body["return"]
        entries = body.get("entries") or []
        return int(ret["status"]), str(ret.get("message", "")), entries if isinstance(entries, list) else []
    except (ValueError, KeyError, TypeError, AttributeError):
        return response.status_code, f"unreadable answer (HTTP {response.status_code})", []


def receptor(phone: str) -> str:
    """The number as Kavenegar's documentation writes it: 09… for Iran, 00<country>… for the rest."""
    if phone.startswith("+98"):
        return "0" + phone[3:]
    return "00" + phone[1:] if phone.startswith("+") else phone


class KavenegarSender:
    """Sends through Kavenegar's REST API with our outbound id as `localid` (what `find` looks it up by)."""

    name = "kavenegar"
    media = MediaAccess()  # Kavenegar carries no MMS

    def __init__(self, api_key: str, sender: str, api_base_url: str, pool: int = POOL_SIZE) -> None:
        self.number = sender
        self._base = f"{api_base_url.rstrip('/')}/v1/{api_key}/sms"
        self._http = pooled_session(pool)  # a batch's SMS go out concurrently: keep that many connections, not 10

    def _call(self, method: str, params: dict[str, str]) -> tuple[int, str, list[dict[str, Any]]]:
        """One API call: Kavenegar's `return.status`, `return.message` and `entries`."""
        try:
            response = self._http.post(f"{self._base}/{method}.json", data=params, timeout=TIMEOUT)
        except requests.RequestException as exc:  # a send cut after it went out may have been accepted
            raise network_error(exc, "kavenegar", detail=False) from exc  # no detail: the URL holds the key
        return return_of(response)

    def _raise(self, status: int, message: str) -> None:
        """Raise the classified error of a status other than 200, loudly when the account is refused."""
        error = classify(status, message)
        if isinstance(error, AccountError):
            log.error("KAVENEGAR REFUSED THE ACCOUNT (%s): check kavenegar.api_key and the allowed IPs", error)
        if error is not None:
            raise error

    def send(self, to: str, body: str, local_id: str = "") -> str:
        params = {"receptor": receptor(to), "sender": self.number, "message": body}
        if local_id:
            params["localid"] = local_id
        status, message, entries = self._call("send", params)
        if status >= 500:  # the server failed after taking the request: it may have queued the message
            raise UncertainSendError(f"kavenegar {status}: {message}")
        self._raise(status, message)
        if not entries or not entries[0].get("messageid"):
            raise TransientSendError("kavenegar 200 without a messageid")
        return str(entries[0]["messageid"])

    def find(self, to: str, body: str, since: datetime, local_id: str = "") -> str | None:
        """Kavenegar keeps our `localid`: the provider id of the message sent under it, or None."""
        if not local_id:
            return None
        status, message, entries = self._call("statuslocalmessageid", {"localid": local_id})
        if status in NOT_FOUND:
            return None
        try:
            self._raise(status, message)
        except PermanentSendError as exc:  # a refusal of the lookup says nothing of the message
            raise TransientSendError(str(exc)) from exc
        found = [e for e in entries if e.get("messageid") and str(e.get("status")) != "100"]
        return str(found[0]["messageid"]) if found else None


def from_settings(settings: Settings) -> KavenegarSender:
    """The sender for `outbound.gateway: kavenegar`; refuses to start without the key and the sender line."""
    k = settings.kavenegar
    if k is None or not (k.api_key and k.sender):
        raise ValueError("outbound.gateway is kavenegar: set kavenegar.api_key and kavenegar.sender")
    return KavenegarSender(
        k.api_key,
        k.sender,
        k.api_base_url,
        max(POOL_SIZE, settings.outbound.concurrency + settings.worker.followup_concurrency),
    )
