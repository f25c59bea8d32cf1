"""What every inbound channel shares: hand the typed message to the handler, and never fail the gateway for it."""

from __future__ import annotations

import logging

import redis
from flask import has_request_context, request

from adapters.http import OutsideSystemUnavailable
from dialogs.model import Inbound
from dialogs.text import normalize, script_of
from sms_gateway import counters
from sms_gateway.handler import receive
from sms_gateway.logs import mask_digits
from sms_gateway.runtime import Services
from storage.phones import LockLost, PhoneBusy

log = logging.getLogger("kontor.channels")

# Failures that pass (Redis, a busy phone, an outside system down): the subscriber is asked to send again.
TRANSIENT = (redis.RedisError, PhoneBusy, LockLost, OSError, OutsideSystemUnavailable)


def replies_to(services: Services, inbound: Inbound, channel: str = "") -> list[str]:
    """The replies to one verified message; any failure becomes the "send it again" reply, never an error.
    Counted under `channel`, by default the blueprint serving the request (a channel outside Flask names itself)."""
    if not inbound.sender:
        log.warning("message without a usable sender; nothing to answer")
        return []
    try:
        handled = receive(services, inbound)
        count(handled.outcome, channel)
        return handled.replies
    except TRANSIENT as exc:
        log.warning("could not handle message from %s now: %s", mask_digits(inbound.sender), exc)
    except Exception:
        log.exception("failed on message from %s", mask_digits(inbound.sender))
    return try_again(services, inbound.text, channel)


def try_again(services: Services, text: str, channel: str = "") -> list[str]:
    """The short "send it again in a minute" reply, in the message's language."""
    count("try_again", channel)
    lang = script_of(normalize(text)) or services.rules.default_language
    return [services.rules.catalogue.text("try_again_later", lang)]


def count(outcome: str, channel: str = "") -> None:
    """The one place an inbound message is counted, by channel (default: the blueprint serving it) and outcome."""
    if not channel and has_request_context():
        channel = request.blueprint or ""
    counters.message_in(channel, outcome)
