"""POST /sms/twilio: verify Twilio's signature, hand the message to the handler, answer in TwiML."""
from __future__ import annotations

import logging
import re

import redis
from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from adapters.http import OutsideSystemUnavailable
from dialogs.model import Inbound, Media
from dialogs.text import normalize, script_of
from sms_gateway.handler import canonical_phone, handle
from sms_gateway.logs import mask_digits
from sms_gateway.runtime import Services
from storage.sessions import LockLost, PhoneBusy

bp = Blueprint("twilio", __name__)
log = logging.getLogger("kontor.twilio")
MAX_MEDIA = 10


def signed_url() -> str:
    """The URL Twilio signed: the public URL when behind a proxy, else the one called."""
    public = current_app.config["KONTOR_PUBLIC_URL"]
    if not public:
        return request.url
    query = ("?" + request.query_string.decode()) if request.query_string else ""
    return public.rstrip("/") + request.path + query


def twiml(replies: list[str]) -> Response:
    response = MessagingResponse()
    for text in replies:
        response.message(text)
    return Response(str(response), mimetype="application/xml")


SENDER = re.compile(r"[+\w:.@-]{1,20}")   # E.164, a short code, an alphanumeric id (fits the mobile columns)


def inbound_from_form() -> Inbound:
    """The message as Twilio posted it; a missing field becomes empty, a malformed sender becomes none."""
    form = request.form
    try:
        count = max(0, min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA))
    except ValueError:
        count = 0
    media = tuple(Media(form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
                  for i in range(count) if form.get(f"MediaUrl{i}"))
    sender = canonical_phone(form.get("From", ""))
    if not SENDER.fullmatch(sender):
        sender = ""
    return Inbound(sender, form.get("Body", ""), form.get("MessageSid", "")[:64], media)


@bp.post("/sms/twilio")
def inbound_sms() -> Response:
    """Never a 5xx: a bad signature is 403; any failure after it is a 200 asking to send again."""
    services: Services = current_app.config["KONTOR_SERVICES"]
    validator: RequestValidator = current_app.config["KONTOR_VALIDATOR"]
    if not validator.validate(signed_url(), request.form, request.headers.get("X-Twilio-Signature", "")):
        log.warning("refused a webhook with a bad signature")
        abort(403)
    inbound = Inbound("", "")
    try:
        inbound = inbound_from_form()
        if not inbound.sender:
            log.warning("webhook without a usable sender; nothing to answer")
            return twiml([])
        return twiml(handle(services, inbound))
    except (redis.RedisError, PhoneBusy, LockLost, OSError, OutsideSystemUnavailable) as exc:
        log.warning("could not handle message from %s now: %s", mask_digits(inbound.sender), exc)
    except Exception:
        log.exception("failed on message from %s", mask_digits(inbound.sender))
    return try_again(services, inbound.text)


def try_again(services: Services, text: str) -> Response:
    """The short "send it again in a minute" reply, in the message's language."""
    lang = script_of(normalize(text)) or services.rules.default_language
    return twiml([services.rules.catalogue.text("try_again_later", lang)])
