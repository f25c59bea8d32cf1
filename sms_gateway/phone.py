"""`kontor phone`: type as a subscriber would; each line is posted as a signed Twilio webhook.

Replies (TwiML) print at once; outbound SMS to this number (the tracking number) print as they arrive.
A line `/mms URL [TYPE]` sends an MMS photo instead of text.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import requests
from sqlalchemy import func, select

from sms_gateway.channels.numbers import canonical_phone
from sms_gateway.settings import Settings, webhook_token
from sms_gateway.webhook_client import Sms, TwilioChannel, WebhookClient
from storage import repository
from storage.db import make_engine, session_factory
from storage.models import OutboundMessage


def sms_of(sender: str, line: str) -> Sms:
    """A typed line as one SMS; `/mms URL [TYPE]` is an MMS photo with no text."""
    if line.startswith("/mms "):
        parts = line.split()
        return Sms(sender, media=[(parts[1], parts[2] if len(parts) > 2 else "image/jpeg")])
    return Sms(sender, line)


def client(settings: Settings, url: str = "") -> WebhookClient:
    """Signed as Twilio signs for this Kontor; posted to `url`, by default the webhook at server.host/port."""
    channel = TwilioChannel(
        webhook_token(settings), to=settings.twilio.from_number, account_sid=settings.twilio.account_sid or "AClocal"
    )
    if url:
        return WebhookClient(channel, url)
    return WebhookClient.local(channel, settings.server.port, settings.server.host)


def _watch_outbox(settings: Settings, sender: str, stop: threading.Event) -> None:
    db = session_factory(make_engine(settings.database_url))
    with db() as s:
        last = s.scalar(select(func.max(OutboundMessage.id)).where(OutboundMessage.to == sender)) or 0
    while not stop.wait(0.5):
        with db() as s:
            for message in repository.messages_to(s, sender, last):
                print(f"\n📩 SMS: {message.body}\n> ", end="", flush=True)
                last = message.id


def run_phone(settings: Settings, sender: str, url: str = "") -> int:
    sender = canonical_phone(sender)
    kontor = client(settings, url)
    stop = threading.Event()
    threading.Thread(target=_watch_outbox, args=(settings, sender, stop), daemon=True).start()
    print(f"Kontor phone {sender} → {kontor.url}. Try «قرائت» or READ; Ctrl-D to quit.")
    try:
        while True:
            try:
                line = input("> ")
            except EOFError:
                break
            if not line.strip():
                continue
            try:
                for reply in kontor.send(sms_of(sender, line)):
                    print(f"← {reply}")
            except (requests.RequestException, ET.ParseError) as exc:
                print(f"(could not reach Kontor: {exc})")
    finally:
        stop.set()
    return 0
