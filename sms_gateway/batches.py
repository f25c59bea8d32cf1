"""The batch jobs: confirmed requests finished many per RQ job, and their follow-ups worked on concurrently.

Both drain an inbox (sms_gateway/inbox.py): `finish_confirmed` on the main queue (store a batch in one transaction,
queue its follow-ups, send its tracking SMS concurrently), `process_followups` on the follow-up queue (identity,
bill and outcome of a batch, `worker.followup_concurrency` requests at once, each as process_request does it alone).
A confirmed request that arrives while follow-ups wait is finished at once: tracking numbers first. Whatever a
batch cannot finish goes to an RQ job of its own (finish_request, process_request), retried with backoff and kept
in `kontor jobs failed`: one bad request never holds back the others, and every step is idempotent by dialog id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import redis
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.clock import utcnow
from dialogs.request import ConfirmedRequest
from sms_gateway import bootstrap, counters, runtime
from sms_gateway.inbox import Inbox
from sms_gateway.jobs import job_id, new_tracking_number, process_request
from sms_gateway.outbox import claimer
from sms_gateway.outbox_batch import deliver_all
from sms_gateway.pools import pool
from sms_gateway.worker import is_alive
from storage import repository
from storage.models import Request

log = logging.getLogger("kontor.jobs")
DRAIN_SECONDS = 30  # a batch job drains this long at most, then queues the next (other jobs get a turn)
DRAINING = threading.Lock()  # held while this process runs a confirmed batch job (its heartbeat reads it)
FOLLOWING = threading.Lock()  # held while this process runs a follow-up batch job
TRACKING_LOOK_SECONDS = 0.02  # while a wave of follow-ups waits, how often it looks for a confirmed request
WAVE_GRACE_SECONDS = 40.0  # an interrupted job waits this long for its wave; with the job's 120 s, under RQ's 180 s


@dataclass(frozen=True)
class Stored:
    """A request as stored, with the tracking SMS it owes."""

    dialog_id: str
    tracking: str
    status: str
    message_id: int
    created: bool


@counters.timed
def finish_confirmed(_job_id: str = "") -> int:
    """Drain the confirmed requests, `worker.batch_size` at a time; returns how many."""
    return finish_confirmed_here(bootstrap.services())


def finish_confirmed_here(services: runtime.Services, nested: bool = False) -> int:
    """The confirmed requests' drain; `nested`: by a follow-up job that saw one waiting (no wait for its turn in
    RQ): one batch, and the queued job's kick left alone (that job goes on with the rest)."""
    size, work, alone = (
        services.settings.worker.batch_size,
        partial(finish_batch, services),
        partial(finish_alone, services),
    )
    if nested:
        return _drain(services, services.confirmed, DRAINING, size, work, alone, seconds=0, clear_kick=False)
    return _drain(services, services.confirmed, DRAINING, size, work, alone)


@counters.timed
def process_followups(_job_id: str = "") -> int:
    """Drain the follow-ups, one wave of `worker.followup_concurrency` at a time; a confirmed request that arrives
    meanwhile is finished at once (followup_batch), and one waiting between waves ends this job first; returns how
    many."""
    services = bootstrap.services()
    size = services.settings.worker.followup_concurrency
    work, alone = partial(followup_batch, services), partial(process_alone, services)
    return _drain(services, services.followups, FOLLOWING, size, work, alone, first=True)


def _drain(
    services: runtime.Services,
    inbox: Inbox,
    lock: threading.Lock,
    size: int,
    work: Callable[[list[str]], None],
    alone: Callable[[list[str]], None],
    first: bool = False,
    seconds: float = DRAIN_SECONDS,
    clear_kick: bool = True,
) -> int:
    """Take batches until the inbox is empty (or `seconds` passed, or, with `first`, a confirmed request waits).

    A batch this job could not finish because Redis went away (or its time ran out) stays taken by this worker:
    the next batch job here takes it first (Inbox.take), its heartbeat gives it back once no such job runs here
    (`lock`), and a dead worker's is given back by the others. A batch that fails for any other reason goes on
    item by item in jobs of their own (`alone`), so one bad item can never hold the inbox back."""
    me = claimer()
    done, until = 0, time.monotonic() + seconds
    with lock:
        if clear_kick:  # an item pushed from now on queues a job of its own; one pushed before is drained here
            inbox.started()
        while batch := inbox.take(me, size):
            _work_or_alone(batch, work, alone)
            inbox.done(me)
            done += len(batch)
            if time.monotonic() > until or (first and services.confirmed.waiting()):
                if inbox.waiting():
                    inbox.kick()  # a new job goes on with the rest, after the main queue's
                break
    return done


def _work_or_alone(batch: list[str], work: Callable[[list[str]], None], alone: Callable[[list[str]], None]) -> None:
    try:
        work(batch)
    except (JobTimeoutException, redis.ConnectionError, redis.TimeoutError):
        raise  # the batch stays taken: the next job here takes it first
    except Exception as exc:  # noqa: BLE001 - whatever it is, each item goes on alone and a failure shows there
        log.error("a batch of %d failed (%s): each item goes on in a job of its own", len(batch), exc)
        alone(batch)


def recover(services: runtime.Services, me: str) -> int:
    """The heartbeat's sweep of both inboxes: dead workers' batches back, ours too when no batch job runs here (a
    batch cut short by a Redis outage), then a job for whatever waits (one lost in a fail-over costs one sweep)."""
    moved = 0
    for inbox, lock in ((services.confirmed, DRAINING), (services.followups, FOLLOWING)):
        back = inbox.give_back_dead(is_alive(services.redis))
        if lock.acquire(blocking=False):  # held by a running batch job: its batch is not left over
            try:
                back += inbox.give_back(me)
            finally:
                lock.release()
        if back or inbox.waiting():
            inbox.kick()
        moved += back
    return moved


def finish_batch(services: runtime.Services, batch: list[str]) -> None:
    """Store a batch in one transaction, queue its follow-ups, then send its tracking SMS concurrently.

    A request that cannot be read goes to a job of its own at once; a batch that fails (its transaction, say)
    goes on request by request (`_drain`, `alone`): one bad request never holds back the others, and a request is
    stored once however many times it is tried (its dialog id is unique)."""
    requests, unreadable = _readable(batch)
    if unreadable:
        hand_off(services, unreadable)
    done = store(services, requests)
    follow_up(services, done)
    deliver_all(services, [d.message_id for d in done])


def _readable(batch: list[str]) -> tuple[list[ConfirmedRequest], list[Any]]:
    """The batch's requests, one per dialog id (a repeated `1` may push one twice), and those that cannot be read."""
    requests: dict[str, ConfirmedRequest] = {}
    unreadable: list[Any] = []
    for data in map(_loaded, batch):
        try:
            request = ConfirmedRequest.from_json(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.error("a confirmed request cannot be read (%s): kept in a job of its own", exc)
            unreadable.append(data)
            continue
        requests.setdefault(request.dialog_id, request)
    return list(requests.values()), unreadable


def _loaded(raw: str) -> Any:
    """An inbox item as JSON, or as it is when it is not JSON (it goes to a failed job for a person to read)."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def hand_off(services: runtime.Services, payloads: list[Any]) -> None:
    """Requests to finish one job each (the job id is the dialog's, or the unreadable item's digest: a request
    handed twice runs once)."""
    jobs = []
    for payload in payloads:
        dialog = payload.get("dialog_id") if isinstance(payload, dict) else None
        if isinstance(dialog, str) and dialog:
            jobs.append((payload, job_id("finish", dialog)))
        else:
            jobs.append((payload, "finish-unreadable-" + hashlib.sha256(repr(payload).encode()).hexdigest()[:16]))
    runtime.enqueue_many(services, "sms_gateway.jobs.finish_request", jobs)


def finish_alone(services: runtime.Services, batch: list[str]) -> None:
    """A confirmed batch that failed: each request (read as far as it can be) in a finish_request job of its own."""
    hand_off(services, [_loaded(raw) for raw in batch])


def process_alone(services: runtime.Services, dialog_ids: list[str]) -> None:
    """Follow-ups in a process_request job each (the job id is the dialog's), retried with backoff."""
    jobs: list[tuple[object, str]] = [(d, job_id("process", d)) for d in dialog_ids]
    runtime.enqueue_many(services, "sms_gateway.jobs.process_request", jobs, services.followup)


def store(services: runtime.Services, requests: list[ConfirmedRequest]) -> list[Stored]:
    """Store each request once and owe its tracking SMS, all in one transaction: a few statements per batch, or,
    after a clash (another worker storing the same dialog that moment, a tracking number drawn twice), one savepoint
    per request."""
    try:
        out = _store(services, requests, repository.store_requests)
    except IntegrityError:
        log.warning("a clash in a batch of %d request(s): stored one by one", len(requests))
        out = _store(services, requests, _one_by_one)
    for done in out:
        log.info("request %s %s", done.tracking, "stored" if done.created else "already stored")
    return out


def _one_by_one(
    db: Session, requests: list[ConfirmedRequest], tracking: Callable[[], str], now: datetime
) -> list[tuple[Request, bool]]:
    return [repository.store_request(db, r, tracking, now) for r in requests]


def _store(
    services: runtime.Services,
    requests: list[ConfirmedRequest],
    how: Callable[[Session, list[ConfirmedRequest], Callable[[], str], datetime], list[tuple[Request, bool]]],
) -> list[Stored]:
    now, cat = utcnow(), services.rules.catalogue
    with services.db.begin() as db:
        rows = how(db, requests, new_tracking_number, now)
        owed = [
            (
                f"tracking:{row.dialog_id}",
                row.mobile,
                cat.text("tracking_sms", row.language, tracking=row.tracking_number),
            )
            for row, _ in rows
        ]
        messages = repository.owe_messages(db, owed, now)
        return [
            Stored(row.dialog_id, row.tracking_number, row.status, message.id, created)
            for (row, created), message in zip(rows, messages, strict=True)
        ]


def follow_up(services: runtime.Services, done: list[Stored]) -> None:
    """Queue the follow-up of each request still `received`, in one round trip, before any SMS is sent:
    a gateway that stays down must not hold back identity and the bill."""
    waiting = [d.dialog_id for d in done if d.status == "received"]
    if waiting:
        services.followups.push(waiting)


def followup_batch(services: runtime.Services, dialog_ids: list[str]) -> None:
    """Each follow-up as process_request does it alone, `worker.followup_concurrency` at once (they wait on outside
    systems and the gateway, not on this process); one that fails goes on in a job of its own, retried with backoff.
    While they wait, a confirmed request that arrives is finished at once, in this thread: tracking numbers first."""
    failed: list[str] = []

    def one(dialog_id: str) -> None:
        try:
            process_request(dialog_id)
        except Exception as exc:  # noqa: BLE001 - whatever it is, this request goes on alone and a failure shows there
            log.warning("follow-up of %s goes on in a job of its own: %s", dialog_id, exc)
            failed.append(dialog_id)

    wave = pool("followup", services.settings.worker.followup_concurrency)
    started: list[Future[None]] = []
    try:
        started += [wave.submit(one, dialog_id) for dialog_id in dict.fromkeys(dialog_ids)]
        _wait_finishing_confirms(services, set(started))
    finally:  # the wave's threads end before this job does (bounded: an interrupted job does not wait forever)
        wait(started, timeout=WAVE_GRACE_SECONDS)
    if failed:
        process_alone(services, failed)


def _wait_finishing_confirms(services: runtime.Services, waiting: set[Future[None]]) -> None:
    """Wait for a wave, finishing any confirmed request that arrives meanwhile (a failure there leaves the confirm
    to its own job and the wave goes on)."""
    looking = True
    while waiting:
        waiting = wait(waiting, timeout=TRACKING_LOOK_SECONDS).not_done
        if looking and services.confirmed.waiting() and not DRAINING.locked():  # locked: a drain here is on it
            try:
                finish_confirmed_here(services, nested=True)
            except JobTimeoutException:
                raise
            except Exception as exc:  # noqa: BLE001 - logged; the confirmed batch stays with its own job
                log.warning("a confirm could not be finished during follow-ups (%s): left to its own job", exc)
                looking = False
