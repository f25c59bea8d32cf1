"""Outbound SMS gateways: one adapter each behind the Sender protocol, chosen by the setting `outbound.gateway`.

Errors are sorted for the caller: PermanentSendError (record failed, never retry) or TransientSendError
(raise so the job is retried with backoff: 429, 5xx, timeouts, refused connections).
Adding a gateway: one module here with `from_settings(settings) -> Sender`, one line in GATEWAYS.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import requests

if TYPE_CHECKING:
    from sms_gateway.settings import Settings

# outbound.gateway -> the module of its adapter (imported only when chosen, so an unused gateway's library
# is never loaded).
GATEWAYS = {
    "outbox": "adapters.senders.outbox",
    "twilio": "adapters.senders.twilio",
    "kavenegar": "adapters.senders.kavenegar",
    "smpp": "adapters.senders.smpp",
}


class PermanentSendError(Exception):
    """The gateway refused this message for good (bad number, opted out): do not retry."""


class TransientSendError(Exception):
    """The gateway is busy or unreachable now (429, 5xx, network): retry later with backoff."""


class UncertainSendError(TransientSendError):
    """The request may have reached the gateway (a read timeout, a connection cut after sending): the outbox
    asks the gateway (Sender.find) before it sends the message again."""


class AccountError(TransientSendError):
    """The gateway refused our account, not the message (a wrong or rotated key, an IP not allow-listed):
    the outbox holds the message and retries with backoff, loudly, until an operator fixes the account."""


def network_error(exc: Exception, gateway: str = "", detail: bool = True) -> TransientSendError:
    """Refused or never connected: not sent. Anything later (a read timeout, a cut connection): maybe sent, so
    the outbox asks the gateway before any resend. `detail=False` keeps a URL holding a key out of the text."""
    text = (f"{gateway} " if gateway else "") + f"network: {type(exc).__name__}" + (f": {exc}" if detail else "")
    if isinstance(exc, requests.ConnectTimeout) or "NewConnectionError" in repr(exc) or "refused" in str(exc):
        return TransientSendError(text)
    return UncertainSendError(text)


@dataclass(frozen=True)
class MediaAccess:
    """Which inbound media URLs may be fetched (only the gateway's own: no SSRF through a webhook), and how."""

    prefixes: tuple[str, ...] = ()
    auth: tuple[str, str] | None = None


class Sender(Protocol):
    name: str  # recorded as the provider of each sent message
    number: str  # the sender number: outbound SMS are throttled per number
    media: MediaAccess  # the gateway's own media URLs and credentials (MMS attachments)

    def send(self, to: str, body: str, local_id: str = "") -> str:
        """Send one SMS; returns the provider's message id. Raises PermanentSendError or TransientSendError.

        `local_id` is Kontor's own id of the message, for gateways that keep it (reconciliation)."""

    def find(self, to: str, body: str, since: datetime, local_id: str = "") -> str | None:
        """The provider id of this message if the gateway already accepted it (sent at or after `since`, UTC),
        None when the gateway has no record of it; raises TransientSendError when it cannot tell now."""


def from_settings(settings: Settings) -> Sender:
    """The adapter named by `outbound.gateway` (checked against GATEWAYS when the settings load)."""
    module = importlib.import_module(GATEWAYS[settings.outbound.gateway])
    sender: Sender = module.from_settings(settings)
    return sender
