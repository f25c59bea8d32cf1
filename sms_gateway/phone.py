"""`kontor phone`: type as a subscriber would; each line is posted as a signed Twilio webhook.

Replies (TwiML) print at once; outbound SMS to this number (the tracking number) print as they arrive.
A line `/mms URL [TYPE]` sends an MMS photo instead of text.
"""
from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET

import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from sms_gateway.channels.numbers import canonical_phone
from sms_gateway.settings import Settings
from storage import repository
from storage.db import make_engine, session_factory
from storage.models import OutboundMessage


def webhook_params(settings: Settings, sender: str, line: str) -> dict[str, str]:
    params = {"From": sender, "To": settings.twilio.from_number, "Body": line, "NumMedia": "0",
              "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": settings.twilio.account_sid or "AClocal"}
    if line.startswith("/mms "):
        parts = line.split()
        params.update(Body="", NumMedia="1", MediaUrl0=parts[1],
                      MediaContentType0=parts[2] if len(parts) > 2 else "image/jpeg")
    return params


def post(settings: Settings, url: str, params: dict[str, str]) -> list[str]:
    """Sign exactly as Twilio does and return the reply messages."""
    signature = RequestValidator(settings.webhook_token).compute_signature(url, params)
    response = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
    response.raise_for_status()
    return [m.text or "" for m in ET.fromstring(response.content).iter("Message")]


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
    url = url or f"http://{settings.server.host}:{settings.server.port}/sms/twilio"
    stop = threading.Event()
    threading.Thread(target=_watch_outbox, args=(settings, sender, stop), daemon=True).start()
    print(f"Kontor phone {sender} → {url}. Try «قرائت» or READ; Ctrl-D to quit.")
    try:
        while True:
            try:
                line = input("> ")
            except EOFError:
                break
            if not line.strip():
                continue
            try:
                for reply in post(settings, url, webhook_params(settings, sender, line)):
                    print(f"← {reply}")
            except (requests.RequestException, ET.ParseError) as exc:
                print(f"(could not reach Kontor: {exc})")
    finally:
        stop.set()
    return 0
