"""`kontor outbox failed|resend`: messages the gateway refused for good are visible, and can be sent again once
the cause is fixed (a number corrected, an opt-out withdrawn)."""

from __future__ import annotations

from typing import IO

from rq.job import Job
from sqlalchemy import select, update

from sms_gateway import runtime
from sms_gateway.logs import mask_digits
from sms_gateway.outbox import delivery_job_id
from sms_gateway.settings import Settings
from storage.models import FAILED, PENDING, OutboundMessage


def failed(settings: Settings, out: IO[str]) -> int:
    """One line per failed message: id, the number masked, attempts, when owed, the gateway's reason."""
    services = runtime.build(settings)
    with services.db() as db:
        rows = list(
            db.scalars(select(OutboundMessage).where(OutboundMessage.status == FAILED).order_by(OutboundMessage.id))
        )
    for m in rows:
        out.write(f"{m.id}\t{mask_digits(m.to)}\t{m.attempts}\t{m.created_at:%Y-%m-%d %H:%M}\t{m.error[:120]}\n")
    out.write(f"{len(rows)} failed message(s)\n")
    return 0


def resend(settings: Settings, ids: list[int], every: bool, out: IO[str]) -> int:
    """Back to pending (a compare-and-set on failed) and handed to the worker; 2 when nothing matched."""
    services = runtime.build(settings)
    query = update(OutboundMessage).where(OutboundMessage.status == FAILED)
    if not every:
        query = query.where(OutboundMessage.id.in_(ids))
    with services.db.begin() as db:
        chosen = list(db.scalars(query.values(status=PENDING, error="", claimed_by="").returning(OutboundMessage.id)))
    for job in Job.fetch_many([delivery_job_id(i) for i in chosen], connection=services.redis):
        if job is not None:  # its failed predecessor: out of the registries before the id is used again
            job.delete()
    # the one delivery job id, as the sweep uses it: the sweep sees this job and queues no second one
    runtime.enqueue_many(services, "sms_gateway.outbox.deliver", [(i, delivery_job_id(i)) for i in chosen])
    out.write(f"{len(chosen)} message(s) queued again\n")
    return 0 if chosen or every else 2
