"""The other side of an inbound channel: one SMS as a gateway would post it, signed, with its replies read back.

`kontor phone`, the tests and the bench all speak to Kontor through this one client, so a channel's form and
signature are written once. A channel is one small class (Twilio, Kavenegar); the transport is HTTP here,
or any callable that posts a form (the tests' in-process Flask client).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import requests
from twilio.request_validator import RequestValidator


def new_message_id() -> str:
    """A message id shaped like Twilio's (SM + 32 hex), unique per message so no dedupe kicks in by accident."""
    return "SM" + uuid.uuid4().hex


@dataclass(frozen=True)
class Sms:
    """One message as the subscriber sends it: text, or media (URL, content type) for an MMS."""

    sender: str
    text: str = ""
    message_id: str = field(default_factory=new_message_id)
    media: Sequence[tuple[str, str]] = ()


class Channel(Protocol):
    """What a client needs to know of one inbound channel: where it listens, its form, its signature, its replies."""

    @property
    def path(self) -> str: ...

    def form(self, sms: Sms) -> dict[str, str]: ...

    def headers(self, url: str, form: Mapping[str, str], signature: str | None = None) -> dict[str, str]: ...

    def replies(self, content: bytes) -> list[str]: ...


# Every field a real Twilio webhook carries besides the ones Kontor reads: the bench posts forms of real size.
TWILIO_EXTRA = {
    "ToCountry": "US",
    "ToState": "CA",
    "ToCity": "",
    "ToZip": "",
    "FromZip": "",
    "FromState": "",
    "FromCity": "",
    "FromCountry": "IR",
    "SmsStatus": "received",
    "MessagingServiceSid": "",
    "NumSegments": "1",
    "ApiVersion": "2010-04-01",
}


@dataclass(frozen=True)
class TwilioChannel:
    """Twilio's Messaging webhook: a form post signed with X-Twilio-Signature, TwiML <Message> replies."""

    token: str
    to: str = "+15005550006"
    account_sid: str = "AClocal"
    complete: bool = False  # add every field Twilio sends (TWILIO_EXTRA, SmsSid, SmsMessageSid)
    path: str = "/sms/twilio"

    def form(self, sms: Sms) -> dict[str, str]:
        form = {
            "From": sms.sender,
            "To": self.to,
            "Body": sms.text,
            "AccountSid": self.account_sid,
            "MessageSid": sms.message_id,
            "NumMedia": str(len(sms.media)),
        }
        for i, (url, kind) in enumerate(sms.media):
            form[f"MediaUrl{i}"], form[f"MediaContentType{i}"] = url, kind
        if self.complete:
            form.update(TWILIO_EXTRA, SmsSid=sms.message_id, SmsMessageSid=sms.message_id)
        return form

    def signature(self, url: str, form: Mapping[str, str]) -> str:
        """Exactly what Twilio computes: HMAC-SHA1 of the URL and the sorted form, with the auth token."""
        return str(RequestValidator(self.token).compute_signature(url, dict(form)))

    def headers(self, url: str, form: Mapping[str, str], signature: str | None = None) -> dict[str, str]:
        """The signature header; a given signature (a test's forged one) is sent as it is."""
        return {"X-Twilio-Signature": self.signature(url, form) if signature is None else signature}

    def replies(self, content: bytes) -> list[str]:
        return [m.text or "" for m in ET.fromstring(content).iter("Message")]


@dataclass(frozen=True)
class KavenegarChannel:
    """Kavenegar's receive webhook: the secret is in the path, nothing is signed, and the HTTP answer carries no
    reply (replies arrive by Kavenegar's send API, so `replies` is always empty)."""

    token: str
    to: str = "10004346"  # the utility's Kavenegar line

    @property
    def path(self) -> str:
        return f"/sms/kavenegar/{self.token}"

    def form(self, sms: Sms) -> dict[str, str]:
        """The fields Kavenegar sends; the sender as Kavenegar writes an Iranian mobile (09…)."""
        sender = "0" + sms.sender[3:] if sms.sender.startswith("+98") else sms.sender
        return {"from": sender, "to": self.to, "message": sms.text, "messageid": sms.message_id}

    def headers(self, url: str, form: Mapping[str, str], signature: str | None = None) -> dict[str, str]:
        return {}

    def replies(self, content: bytes) -> list[str]:
        return []


@dataclass
class WebhookClient:
    """Posts signed forms to a running Kontor over HTTP (`kontor phone`, the end-to-end and fault tests)."""

    channel: Channel
    url: str  # the webhook's full URL, as the gateway is configured with it
    timeout: float = 30.0

    @classmethod
    def local(cls, channel: Channel, port: int, host: str = "127.0.0.1") -> WebhookClient:
        """The channel's webhook of a Kontor listening on this host and port."""
        return cls(channel, f"http://{host}:{port}{channel.path}")

    def post(self, form: Mapping[str, str], signature: str | None = None, url: str | None = None) -> requests.Response:
        """One signed post of a form as it is (signed for `url` when given, so a test can post elsewhere)."""
        url = url or self.url
        return requests.post(
            url, data=dict(form), headers=self.channel.headers(url, form, signature), timeout=self.timeout
        )

    def send(self, sms: Sms) -> list[str]:
        """One message; raises on an HTTP error, returns the reply messages."""
        response = self.post(self.channel.form(sms))
        response.raise_for_status()
        return self.channel.replies(response.content)
