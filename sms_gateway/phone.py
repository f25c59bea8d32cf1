"""`kontor phone`: type as a subscriber would; each line is posted as the chosen channel's gateway posts it
(`--channel twilio`: a signed Twilio webhook; `--channel kavenegar`: Kavenegar's receive call on its secret path;
`--channel ussd`: Africa's Talking's USSD callback, `text` accumulated as the aggregator does; `--channel smpp`:
this terminal plays the SMSC that `kontor smpp` binds to, each line a deliver_sm, see sms_gateway/smpp/phone_line.py).

Replies in the HTTP answer (TwiML) print at once; outbound SMS to this number (Kavenegar's replies, the tracking
number) print as they arrive in the outbox, or as submit_sm on the smpp channel (then the outbox is not watched
when `outbound.gateway` is smpp too: each SMS prints once).
A line `/mms URL [TYPE]` sends an MMS photo instead of text.
"""

from __future__ import annotations

import signal
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from types import FrameType

import requests
from sqlalchemy import func, select

from sms_gateway.channels.numbers import canonical_phone
from sms_gateway.settings import Settings, webhook_token
from sms_gateway.ussd_client import UssdChannel
from sms_gateway.webhook_client import Channel, KavenegarChannel, Sms, TwilioChannel, WebhookClient
from storage import repository
from storage.db import make_engine, session_factory
from storage.models import OutboundMessage


def sms_of(sender: str, line: str) -> Sms:
    """A typed line as one SMS; `/mms URL [TYPE]` is an MMS photo with no text."""
    parts = line.split()
    if parts[:1] == ["/mms"] and len(parts) > 1:
        return Sms(sender, media=[(parts[1], parts[2] if len(parts) > 2 else "image/jpeg")])
    return Sms(sender, line)


CHANNELS = ("twilio", "kavenegar", "ussd", "smpp")
Say = Callable[[str], list[str]]  # a typed line sent; the replies that come back at once


def channel_of(settings: Settings, name: str = "twilio") -> Channel:
    """The gateway `kontor phone` plays: Twilio signing with this Kontor's secret, or Kavenegar with its token."""
    if name == "kavenegar":
        k = settings.kavenegar
        if k is None or not k.webhook_token:
            raise ValueError("--channel kavenegar: set kavenegar.webhook_token (or KONTOR_KAVENEGAR_WEBHOOK_TOKEN)")
        return KavenegarChannel(k.webhook_token, to=k.sender or "10004346")
    if name == "ussd":
        if not settings.ussd.token:
            raise ValueError("--channel ussd: set ussd.token (or KONTOR_USSD_TOKEN)")
        return UssdChannel(settings.ussd.token)  # type `*733#` to dial; each line is then one keypad input
    if name != "twilio":
        raise ValueError(f"--channel: one of {', '.join(CHANNELS)}, got {name!r}")
    return TwilioChannel(
        webhook_token(settings), to=settings.twilio.from_number, account_sid=settings.twilio.account_sid or "AClocal"
    )


def client(settings: Settings, url: str = "", channel_name: str = "twilio") -> WebhookClient:
    """Posted as the channel's gateway posts; to `url`, by default the channel's webhook at server.host/port."""
    channel = channel_of(settings, channel_name)
    if url:
        return WebhookClient(channel, url)
    return WebhookClient.local(channel, settings.server.port, settings.server.host)


def _last_message(settings: Settings, sender: str) -> int:
    """Where the watch starts: read before the first line is sent, so no reply to it can slip before the mark."""
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            return s.scalar(select(func.max(OutboundMessage.id)).where(OutboundMessage.to == sender)) or 0
    finally:
        engine.dispose()


def _watch_outbox(settings: Settings, sender: str, last: int, stop: threading.Event) -> None:
    db = session_factory(make_engine(settings.database_url))
    while not stop.wait(0.5):
        with db() as s:
            for message in repository.messages_to(s, sender, last):
                show_sms(sender, sender, message.body)
                last = message.id


def watches_outbox(settings: Settings, channel: str) -> bool:
    """Outbox rows print, unless the phone sees the same SMS as submit_sm (smpp channel and smpp gateway)."""
    return not (channel == "smpp" and settings.outbound.gateway == "smpp")


def show_sms(sender: str, to: str, text: str) -> None:
    """An SMS to this phone as `📩 SMS:`; one to another number (a worker's) says whose it is."""
    whose = "" if to.lstrip("+") == sender.lstrip("+") else f" to +{to.lstrip('+')}"
    print(f"\n📩 SMS{whose}: {text}\n> ", end="", flush=True)


def open_channel(settings: Settings, sender: str, url: str, channel: str) -> tuple[Say, str, Callable[[], None]]:
    """How a line is sent, what the banner names, what to stop on exit; ValueError when the channel is not set up."""
    if channel == "smpp":
        from sms_gateway.smpp.phone_line import open_line  # smpp34 is loaded only for this channel

        line = open_line(settings, lambda mt: show_sms(sender, mt.to, mt.text))

        def say(text: str) -> list[str]:
            line.send(sender, text)
            return []  # replies come back as submit_sm

        return say, f"smpp ({line.where}; replies arrive as 📩 SMS)", line.close
    kontor = client(settings, url, channel)
    where = kontor.url if channel == "twilio" else f"{channel} (replies arrive as 📩 SMS)"  # no secret path shown
    return lambda text: kontor.send(sms_of(sender, text)), where, lambda: None


def run_phone(settings: Settings, sender: str, url: str = "", channel: str = "twilio") -> int:
    sender = canonical_phone(sender)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # a closed terminal too stops what the phone started
        signal.signal(signum, _exit)
    try:
        say, where, close = open_channel(settings, sender, url, channel)
    except ValueError as exc:
        print(exc)
        return 2
    stop = threading.Event()
    try:
        if watches_outbox(settings, channel):
            last = _last_message(settings, sender)
            threading.Thread(target=_watch_outbox, args=(settings, sender, last, stop), daemon=True).start()
        print(f"Kontor phone {sender} → {where}. Try «قرائت» or READ; Ctrl-D to quit.")
        _read_lines(say)
    finally:
        stop.set()
        close()
    return 0


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _read_lines(say: Say) -> None:
    while True:
        try:
            line = input("> ")
        except EOFError:
            return
        if not line.strip():
            continue
        try:
            for reply in say(line):
                print(f"← {reply}")
        except (requests.RequestException, ET.ParseError, TimeoutError) as exc:
            print(f"(could not reach Kontor: {exc})")
