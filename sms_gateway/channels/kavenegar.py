"""The Kavenegar channel: GET or POST /sms/kavenegar/<webhook_token> (inbound SMS) and …/delivery (reports).

Kavenegar signs nothing, so the path carries a secret, compared in constant time: a wrong one is 403 and nothing
is stored. Kavenegar wants an HTTP 200 and takes no reply in it: each reply is owed in SQL (event key = the
message id and the reply's hash, so a redelivered webhook owes nothing twice) before the 200, then sent by a
worker's `outbox.deliver` job through the REST send call. Bad input after the token check is never a 5xx.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from flask import Blueprint, Response, abort, request
from rq.job import Job
from sqlalchemy import update
from werkzeug.exceptions import InternalServerError

from adapters.clock import utcnow
from dialogs.model import Inbound
from sms_gateway import runtime
from sms_gateway.channels import common
from sms_gateway.channels.numbers import sender_of
from sms_gateway.outbox import delivery_job_id
from sms_gateway.runtime import Services
from sms_gateway.settings import Settings
from storage import repository
from storage.models import OutboundMessage

log = logging.getLogger("kontor.kavenegar")
PATH = "/sms/kavenegar/<webhook_token>"
DELIVERY_PATH = PATH + "/delivery"
NAME = "kavenegar"
# Kavenegar's message statuses (its delivery callback and status.json): the ones a report can end in.
DELIVERY = {1: "queued", 2: "scheduled", 4: "sent", 5: "sent", 6: "failed", 10: "delivered", 11: "undelivered"}
DELIVERY |= {13: "cancelled", 14: "blocked"}
FINAL = {"delivered", "undelivered", "failed", "cancelled", "blocked"}


def enabled(settings: Settings) -> bool:
    """On when the config has a `kavenegar` section with a webhook token (from the file or the environment)."""
    return settings.kavenegar is not None and settings.kavenegar.inbound_on


def token_ok(given: str, expected: str) -> bool:
    """The path's secret, compared in constant time; an empty expected token matches nothing."""
    return bool(expected) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def inbound_of(values: dict[str, str]) -> Inbound:
    """The message as Kavenegar sent it (form or query); ids get a prefix so two gateways' ids never collide."""
    given = str(values.get("messageid", "")).strip()[:60]
    message_id = f"kv-{given}" if given else f"kv-local-{secrets.token_hex(12)}"
    return Inbound(sender_of(str(values.get("from", ""))), str(values.get("message", "")), message_id, channel=NAME)


def event_key(message_id: str, index: int, text: str) -> str:
    """One owed reply: the same reply to the same message is one row however often the webhook comes."""
    return f"reply:{message_id}:{index}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def owe_replies(services: Services, inbound: Inbound, replies: list[str]) -> None:
    """Owe the replies in SQL (one transaction), then enqueue delivery of those still pending that have no job yet
    (a redelivery re-enqueues only a reply whose first enqueue was lost)."""
    if not replies:
        return
    with services.db.begin() as db:
        rows = [
            repository.owe_message(db, event_key(inbound.message_id, i, text), inbound.sender, text, utcnow())
            for i, text in enumerate(replies)
        ]
        pending = [row.id for row in rows if row.status == "pending"]
    for message_id in pending:
        job_id = delivery_job_id(message_id)
        if not Job.exists(job_id, connection=services.redis):
            runtime.enqueue(services, "sms_gateway.outbox.deliver", message_id, job_id)


def record_delivery(services: Services, values: dict[str, str]) -> int:
    """The report's status on the message Kavenegar sent under this id; a final status is never overwritten."""
    provider_id, status = str(values.get("messageid", "")).strip()[:64], str(values.get("status", "")).strip()
    state = DELIVERY.get(int(status)) if status.isascii() and status.isdigit() and len(status) < 4 else None
    if not provider_id or state is None:
        return 0
    with services.db.begin() as db:
        done = db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.provider == NAME, OutboundMessage.provider_id == provider_id)
            .where(OutboundMessage.delivery_status.not_in(FINAL))
            .values(delivery_status=state, delivery_at=utcnow())
        )
    return int(getattr(done, "rowcount", 0) or 0)


def blueprint(services: Services) -> Blueprint:
    """The channel's two routes behind the secret path, with its own error answer (a 200: Kavenegar wants one)."""
    bp = Blueprint(NAME, __name__)
    assert services.settings.kavenegar is not None
    expected = services.settings.kavenegar.webhook_token

    @bp.route(PATH, methods=["GET", "POST"])
    def inbound_sms(webhook_token: str) -> Response:
        if not token_ok(webhook_token, expected):
            log.warning("refused a Kavenegar webhook with a wrong token")
            abort(403)
        inbound = inbound_of(request.values.to_dict())
        replies = common.replies_to(services, inbound)
        try:
            owe_replies(services, inbound, replies)
        except Exception:  # SQL or Redis down: the dialog keeps the reply; a redelivery owes it then
            log.exception("could not owe the replies to %s", inbound.message_id)
            return Response("try again\n", 503, mimetype="text/plain")
        return ok()

    @bp.route(DELIVERY_PATH, methods=["GET", "POST"])
    def delivery(webhook_token: str) -> Response:
        if not token_ok(webhook_token, expected):
            log.warning("refused a Kavenegar delivery report with a wrong token")
            abort(403)
        record_delivery(services, request.values.to_dict())
        return ok()

    @bp.errorhandler(InternalServerError)
    def unexpected(exc: InternalServerError) -> tuple[Response, int]:
        """A bug must not become a 5xx for Kavenegar: logged, answered 200."""
        log.error("unexpected error on a Kavenegar webhook: %r", exc.original_exception or exc)
        return ok(), 200

    return bp


def ok() -> Response:
    return Response("ok\n", 200, mimetype="text/plain")
