"""The USSD channel, POST /ussd/africastalking/<token>: Africa's Talking's callback, answered `CON …` or `END …`.

The aggregator posts sessionId, serviceCode, phoneNumber, networkCode and text (every input so far joined by `*`);
only the last input is new: it becomes one Inbound of the same dialog as SMS, its id the session and the input's
number, so a resent callback is applied once. Never a 5xx: a bad token or address is 403, anything else an END.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late

from flask import Blueprint, Response, abort, request
from werkzeug.exceptions import InternalServerError

from dialogs.model import Inbound
from dialogs.ussd import CHANNEL
from sms_gateway.channels import common
from sms_gateway.channels.numbers import sender_of
from sms_gateway.handler import receive
from sms_gateway.logs import mask_digits
from sms_gateway.runtime import Services
from sms_gateway.settings import Settings, Ussd

log = logging.getLogger("kontor.ussd")
PATH = "/ussd/africastalking/<token>"
MAX_TEXT = 1000  # a keypad session is a few dozen inputs; anything longer is not a handset
_SESSION_ID = re.compile(r"[\w.:-]{1,64}")
_DIAL_BILL = re.compile(r"\*?[0-9]+\*([0-9]{6,13})#?")  # *code*1234567804121#


def blueprint(services: Services) -> Blueprint:
    """The callback route, checked against the token and the aggregator's addresses, and a 403 for any other."""
    bp = Blueprint("ussd", __name__)
    cfg = services.settings.ussd
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ussd")  # bounds a slow lookup, not the worker

    @bp.route("/ussd/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
    def elsewhere(rest: str) -> Response:
        abort(403)

    @bp.post(PATH)
    def callback(token: str) -> Response:
        if not allowed(cfg, token, request.remote_addr or ""):
            log.warning("refused a USSD callback (token or address)")
            abort(403)
        inbound = inbound_from_form()
        if inbound is None:
            return screen(services, False, [text(services, "sorry")])
        pending = pool.submit(receive, services, inbound)
        try:
            handled = pending.result(timeout=cfg.answer_seconds)
        except Late:  # one still queued behind slow lookups is dropped; one already running finishes and is kept
            pending.cancel()
            log.warning("USSD screen for %s not ready in %ss", mask_digits(inbound.sender), cfg.answer_seconds)
            return again(services)
        except common.TRANSIENT as exc:
            log.warning("could not handle USSD input from %s now: %s", mask_digits(inbound.sender), exc)
            return again(services)
        common.count(handled.outcome, CHANNEL)
        if not handled.replies:  # opted out, or over the limit after its one notice: nothing to show
            return screen(services, False, [text(services, "sorry")])
        return screen(services, handled.dialog_open, handled.replies)

    @bp.errorhandler(InternalServerError)
    def unexpected(exc: InternalServerError) -> tuple[Response, int]:
        """A bug must not become a 5xx for the aggregator: an END with the apology."""
        log.error("unexpected error on a USSD callback: %r", exc.original_exception or exc)
        return screen(services, False, [text(services, "sorry")]), 200

    return bp


def again(services: Services) -> Response:
    """The "try again in a minute" END, counted like every channel's."""
    common.count("try_again", CHANNEL)
    return screen(services, False, [text(services, "try_again_later")])


def enabled(settings: Settings) -> bool:
    """On when the section is there with a token: the aggregator's callback path carries it."""
    return bool(settings.ussd.token)


def allowed(cfg: Ussd, token: str, address: str) -> bool:
    """The channel is on, the token matches (in constant time) and the caller is one of the aggregator's addresses."""
    if not cfg.token or not hmac.compare_digest(token.encode(), cfg.token.encode()):
        return False
    if not cfg.allow_from:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in cfg.allow_from)


def inbound_from_form() -> Inbound | None:
    """The new input of the callback (the last of `text`), or None when the callback is malformed."""
    form = request.form
    session_id, sender, typed = form.get("sessionId", ""), sender_of(form.get("phoneNumber", "")), form.get("text", "")
    if not _SESSION_ID.fullmatch(session_id) or not sender or len(typed) > MAX_TEXT:
        return None
    inputs = typed.split("*") if typed else []
    new = inputs[-1] if inputs else ""
    dialled = _DIAL_BILL.fullmatch(form.get("serviceCode", "").strip())
    if not inputs and dialled:
        new = dialled.group(1)  # the bill ID in the dial string answers the first question
    return Inbound(sender, new, f"ussd:{session_id}:{len(inputs)}", channel=CHANNEL)


def text(services: Services, key: str) -> str:
    return services.rules.catalogue.on(CHANNEL).text(key, services.rules.default_language)


def screen(services: Services, more: bool, replies: list[str]) -> Response:
    """One screen: `CON` while the dialog waits for an input, `END` once it is over."""
    return Response(("CON " if more else "END ") + "\n".join(replies), mimetype="text/plain")
