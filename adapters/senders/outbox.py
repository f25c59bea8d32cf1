"""No gateway account: each message stays in the SQL outbox (outbound_messages), where `kontor phone` shows it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from adapters.senders import MediaAccess

if TYPE_CHECKING:
    from sms_gateway.settings import Settings


class OutboxSender:
    """Sends nothing: the row itself is the message; no media is fetched (there is no gateway to fetch from)."""

    name = "outbox"
    number = "outbox"
    media = MediaAccess()

    def send(self, to: str, body: str, local_id: str = "") -> str:
        return "local"

    def find(self, to: str, body: str, since: datetime, local_id: str = "") -> str | None:
        """The row is the message: nothing ever left, so there is nothing to find (a resend is a no-op too)."""
        return None


def from_settings(settings: Settings) -> OutboxSender:
    return OutboxSender()
