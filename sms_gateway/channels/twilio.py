"""The Twilio channel, POST /sms/twilio: verify Twilio's signature, read its form, answer in TwiML.

Never a 5xx after the signature: a bad signature is 403; any failure after it is a 200 asking to send again.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.exceptions import InternalServerError

from dialogs.model import Inbound, Media
from sms_gateway.channels import common
from sms_gateway.channels.numbers import sender_of
from sms_gateway.runtime import Services
from sms_gateway.settings import webhook_token

log = logging.getLogger("kontor.twilio")
PATH = "/sms/twilio"
MAX_MEDIA = 10


def blueprint(services: Services) -> Blueprint:
    """The channel's one route, checked against the webhook secret, with its own error answer."""
    bp = Blueprint("twilio", __name__)
    validator = RequestValidator(webhook_token(services.settings))
    public_url = services.settings.server.public_url

    @bp.post(PATH)
    def inbound_sms() -> Response:
        if not validator.validate(signed_url(public_url), request.form, request.headers.get("X-Twilio-Signature", "")):
            log.warning("refused a webhook with a bad signature")
            common.count("refused_signature")
            abort(403)
        try:
            inbound = inbound_from_form()
        except Exception:
            log.exception("could not read a signed webhook")
            return twiml(common.try_again(services, ""))
        return twiml(common.replies_to(services, inbound))

    @bp.errorhandler(InternalServerError)
    def unexpected(exc: InternalServerError) -> tuple[Response, int]:
        """A bug must not become a 5xx for Twilio (it would retry, then alert): 200 asking to send again."""
        log.error("unexpected error on %s: %r", request.path, exc.original_exception or exc)
        return twiml(common.try_again(services, "")), 200

    return bp


def signed_url(public_url: str) -> str:
    """The URL Twilio signed: the public URL when behind a proxy, else the one called."""
    if not public_url:
        return request.url
    query = ("?" + request.query_string.decode()) if request.query_string else ""
    return public_url.rstrip("/") + request.path + query


def twiml(replies: list[str]) -> Response:
    response = MessagingResponse()
    for text in replies:
        response.message(text)
    return Response(str(response), mimetype="application/xml")


def inbound_from_form() -> Inbound:
    """The message as Twilio posted it; a missing field becomes empty, a malformed sender becomes none."""
    form = request.form
    try:
        count = max(0, min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA))
    except ValueError:
        count = 0
    media = tuple(
        Media(form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
        for i in range(count)
        if form.get(f"MediaUrl{i}")
    )
    return Inbound(sender_of(form.get("From", "")), form.get("Body", ""), form.get("MessageSid", "")[:64], media)
