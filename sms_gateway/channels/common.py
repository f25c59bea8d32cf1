"""What every inbound channel shares: hand the typed message to the handler, and never fail the gateway for it."""

from __future__ import annotations

import logging

import redis

from adapters.http import OutsideSystemUnavailable
from dialogs.model import Inbound
from dialogs.text import normalize, script_of
from sms_gateway.handler import handle
from sms_gateway.logs import mask_digits
from sms_gateway.runtime import Services
from storage.phones import LockLost, PhoneBusy

log = logging.getLogger("kontor.channels")

# Failures that pass (Redis, a busy phone, an outside system down): the subscriber is asked to send again.
TRANSIENT = (redis.RedisError, PhoneBusy, LockLost, OSError, OutsideSystemUnavailable)


def replies_to(services: Services, inbound: Inbound) -> list[str]:
    """The replies to one verified message; any failure becomes the "send it again" reply, never an error."""
    if not inbound.sender:
        log.warning("message without a usable sender; nothing to answer")
        return []
    try:
        return handle(services, inbound)
    except TRANSIENT as exc:
        log.warning("could not handle message from %s now: %s", mask_digits(inbound.sender), exc)
    except Exception:
        log.exception("failed on message from %s", mask_digits(inbound.sender))
    return try_again(services, inbound.text)


def try_again(services: Services, text: str) -> list[str]:
    """The short "send it again in a minute" reply, in the message's language."""
    lang = script_of(normalize(text)) or services.rules.default_language
    return [services.rules.catalogue.text("try_again_later", lang)]
