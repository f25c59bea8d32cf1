"""The sweep for stranded SMS: an owed message no RQ job is delivering any more is queued again, by a live worker.

A job can be lost while its message is still owed: a Redis fail-over with asynchronous replication loses a retry
scheduled on the old primary only; an account error outlasts the job's retries. Every `kontor worker`'s heartbeat
thread (sms_gateway/worker.py) runs this sweep; one indexed query, bounded, at most one attempt per grace period.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from rq.job import Job, JobStatus
from sqlalchemy import func, select

from adapters.clock import utcnow
from adapters.senders import TransientSendError
from sms_gateway import runtime
from sms_gateway.outbox import UNFINISHED, Owed, claim_is_stale, deliver, delivery_job_id
from storage.models import SENDING, OutboundMessage

log = logging.getLogger("kontor.outbox")
SWEEP_LIMIT = 100  # stranded messages taken per sweep: a backlog is worked off over several sweeps, never at once
BUSY = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def redeliver(message_id: int) -> None:
    """The sweep's job: one attempt, no RQ retry, because the next sweep (a grace period later) is its retry."""
    with contextlib.suppress(TransientSendError):  # recorded on the row and logged by deliver; the sweep returns
        deliver(message_id)


def stranded(services: runtime.Services, grace_seconds: float, limit: int = SWEEP_LIMIT) -> list[int]:
    """Owed messages no job is moving: pending or uncertain with no attempt for the grace period (a retry lost
    in a Redis fail-over, an account error that outlasted the job's retries), or sending by a dead claimer."""
    now = utcnow()
    last_attempt = func.coalesce(OutboundMessage.claimed_at, OutboundMessage.created_at)
    query = (
        select(OutboundMessage)
        .where(OutboundMessage.status.in_(UNFINISHED), last_attempt < now - timedelta(seconds=grace_seconds))
        .order_by(OutboundMessage.id)
        .limit(limit)
    )
    with services.reader() as db:
        rows = [Owed.of(m) for m in db.scalars(query)]
    return [o.id for o in rows if o.status != SENDING or claim_is_stale(services.redis, o, now, me="")]


def sweep(services: runtime.Services, grace_seconds: float) -> int:
    """Queue a delivery of each stranded message, at most once per grace period across all workers (SET NX),
    and never beside its own delivery job still queued, started or scheduled; returns how many were queued."""
    queued, ids = 0, stranded(services, grace_seconds)
    jobs = Job.fetch_many([delivery_job_id(i) for i in ids], connection=services.redis)
    for message_id, job in zip(ids, jobs, strict=True):
        if job is not None and job.get_status(refresh=False) in BUSY:
            continue
        marker = f"kontor:outbox:{{{message_id}}}:swept"
        if not services.redis.set(marker, "1", nx=True, px=max(1, int(grace_seconds * 1000))):
            continue  # another worker queued it within the grace period
        if job is not None:
            job.delete()  # a finished or failed predecessor: out of its registries before the id is used again
        runtime.enqueue(services, "sms_gateway.sweeper.redeliver", message_id, delivery_job_id(message_id))
        queued += 1
    if queued:
        log.warning("queued %d stranded SMS (no job was delivering them)", queued)
    return queued
