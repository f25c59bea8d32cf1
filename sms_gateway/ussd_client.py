"""The aggregator's side of the USSD channel: a handset's inputs posted as Africa's Talking posts them.

Africa's Talking calls the callback once per screen with the same sessionId and `text` = every input of the session
so far joined by `*` (empty on the dial). A dial string with extra digits (`*733*1234567804121#`) arrives as the
first input. `END` closes the session; the next input dials again with a new sessionId. `kontor phone --channel
ussd` and the tests speak through UssdChannel, which keeps that state per phone exactly as the aggregator does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from sms_gateway.webhook_client import Sms

SERVICE_CODE = "*733#"
NETWORK_CODE = "43211"  # MCC 432 (Iran), MNC 11 (MCI)
DIAL = re.compile(r"\*[0-9*]+#")  # a typed USSD code (`*733#`, `*733*1234567804121#`): a new session


@dataclass
class UssdSession:
    """One aggregator session of one phone: its id and every input so far."""

    service_code: str
    session_id: str = field(default_factory=lambda: "ATUid_" + uuid.uuid4().hex)
    inputs: list[str] = field(default_factory=list)


@dataclass
class UssdChannel:
    """Africa's Talking's USSD callback as a webhook_client Channel: form(), no signature, `CON`/`END` replies."""

    token: str
    service_code: str = SERVICE_CODE
    network_code: str = NETWORK_CODE
    sessions: dict[str, UssdSession] = field(default_factory=dict)  # phone -> its live session
    last_phone: str = ""
    last_form: dict[str, str] = field(default_factory=dict)  # the callback to resend, as an aggregator may
    last_ended: bool = False

    @property
    def path(self) -> str:
        return f"/ussd/africastalking/{self.token}"

    def form(self, sms: Sms) -> dict[str, str]:
        """The next callback: `sms.text` is the input typed; a typed code (`*733#`) dials, and so does the first
        input of a phone with no live session (handed over as the dial string's extra digits, as aggregators do)."""
        live = self.sessions.get(sms.sender)
        if DIAL.fullmatch(sms.text):
            live = self.sessions[sms.sender] = UssdSession(sms.text)
        elif live is None:
            live = self.sessions[sms.sender] = UssdSession(self.service_code)
            if sms.text:
                live.inputs.append(sms.text)  # `*733*<text>#`: the aggregator hands it over as the first input
        else:
            live.inputs.append(sms.text)
        self.last_phone = sms.sender
        self.last_form = {
            "sessionId": live.session_id,
            "serviceCode": live.service_code,
            "phoneNumber": sms.sender,
            "networkCode": self.network_code,
            "text": "*".join(live.inputs),
        }
        return dict(self.last_form)

    def headers(self, url: str, form: Mapping[str, str], signature: str | None = None) -> dict[str, str]:
        return {}  # the aggregator signs nothing: the secret is the path's token (and allow_from)

    def replies(self, content: bytes) -> list[str]:
        """The screen; an `END` closes the phone's session, so its next input dials again."""
        body = content.decode("utf-8")
        self.last_ended = not body.startswith("CON ")
        if self.last_ended:
            self.sessions.pop(self.last_phone, None)
        return [body[4:] if body[:4] in ("CON ", "END ") else body]

    def dial(self, phone: str) -> Sms:
        """A new session for this phone (the old one dropped); send the returned Sms to dial."""
        self.sessions.pop(phone, None)
        return Sms(phone, "")

    def drop(self, phone: str) -> None:
        """The network lost the session (a call, a timeout): the next input dials afresh."""
        self.sessions.pop(phone, None)
