"""The composition root: builds real Redis, SQL, subscriber-system and SMS clients from the settings, once."""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass, field

import redis
from rq import Queue, Retry
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters import cis, clock, ownership, registry, senders
from adapters.cis import SubscriberSystem
from adapters.clock import Clock
from adapters.media import MediaStore
from adapters.ownership import MobileOwnership
from adapters.registry import CivilRegistry
from adapters.senders import Sender
from dialogs import Rules
from dialogs.catalogue import Catalogue
from sms_gateway import redis_client
from sms_gateway.inbox import Inbox
from sms_gateway.settings import Settings
from storage.db import make_engine, read_factory, session_factory
from storage.phones import PhoneStore


@functools.cache
def catalogue() -> Catalogue:
    return Catalogue.from_yaml(importlib.resources.files("dialogs").joinpath("messages.yaml").read_text("utf-8"))


@dataclass
class Services:
    settings: Settings
    redis: redis.Redis
    sessions: PhoneStore  # every Redis key of a phone: its dialog, lock, counters, opt-out
    queue: Queue  # finishing jobs: the tracking number, first
    followup: Queue  # identity, the bill and the outcome: after every waiting tracking number
    engine: Engine
    db: sessionmaker[Session]
    cis: SubscriberSystem
    registry: CivilRegistry
    ownership: MobileOwnership
    media: MediaStore
    sms: Sender  # the outbound gateway (outbound.gateway)
    rules: Rules
    clock: Clock = field(default=clock.SYSTEM)  # Tehran time and UTC for the handler and the jobs

    @functools.cached_property
    def reader(self) -> sessionmaker[Session]:
        """Sessions that only read (on SQLite: no wait for the write lock); `db` for anything that writes."""
        return read_factory(self.engine)

    @functools.cached_property
    def confirmed(self) -> Inbox:
        """The confirmed requests waiting for a batch job (pushed by the webhook, drained by the worker)."""
        intervals = self.settings.worker.retry_intervals
        return Inbox(self.redis, "confirmed", self.queue, "sms_gateway.batches.finish_confirmed", intervals)

    @functools.cached_property
    def followups(self) -> Inbox:
        """The stored requests waiting for their follow-up (identity, the bill, the outcome SMS)."""
        intervals = self.settings.worker.retry_intervals
        return Inbox(self.redis, "followup", self.followup, "sms_gateway.batches.process_followups", intervals)


def build(settings: Settings, at: Clock = clock.SYSTEM) -> Services:
    """Every real part, from the settings; `at` is the clock (a test may pin it)."""
    client = redis_client.connect(settings, max_connections=redis_pool_size(settings))
    ttl = settings.dialog.idle_minutes * 60 + 3600
    sql_threads = max(settings.server.threads, settings.worker.followup_concurrency) + 4  # + main thread and sweeps
    engine = make_engine(settings.database_url, threads=sql_threads)  # a batch's sending threads use no SQL
    sender = senders.from_settings(settings)
    return Services(
        settings=settings,
        redis=client,
        sessions=PhoneStore(client, ttl, settings.dialog.lock_seconds, wait_ms=redis_client.replica_wait_ms(settings)),
        queue=Queue(settings.worker.queue, connection=client),
        followup=Queue(settings.worker.queue + "-followup", connection=client),
        engine=engine,
        db=session_factory(engine),
        cis=cis.from_settings(settings),
        registry=registry.from_settings(settings),
        ownership=ownership.from_settings(settings),
        media=_media(settings, sender),
        sms=sender,
        rules=rules_from(settings),
        clock=at,
    )


def busy_threads(settings: Settings) -> int:
    """The most threads of one process that may talk to Redis or SQL at once: a web process's request threads, or
    a worker's follow-up wave with a batch's sends (a confirm finished during a wave)."""
    return max(settings.server.threads, settings.worker.followup_concurrency + settings.outbound.concurrency)


def redis_pool_size(settings: Settings) -> int:
    """Bounded, never short: each busy thread holds one connection at a time; the margin covers RQ, the heartbeat
    and the scheduler."""
    return max(64, 2 * settings.server.threads + 16, busy_threads(settings) + 16)


def rules_from(settings: Settings) -> Rules:
    """The dialog's bounds, each named as in the settings."""
    r, d = settings.readings, settings.documents
    return Rules(
        catalogue=catalogue(),
        idle_minutes=settings.dialog.idle_minutes,
        default_language=settings.dialog.default_language,
        description_max=r.description_max,
        usual_factor=r.usual_factor,
        hours_per_day=r.hours_per_day,
        connection_kw=r.connection_kw,
        demand_factor=r.demand_factor,
        require_receipt=d.require_receipt,
        require_national_card=d.require_national_card,
    )


def _media(settings: Settings, sender: Sender) -> MediaStore:
    """MMS media are fetched only from the outbound gateway's own URLs, with its credentials."""
    d = settings.documents
    return MediaStore.for_gateway(settings.media_path, sender.media, d.max_bytes, tuple(d.types))


def enqueue(
    services: Services,
    function: str,
    argument: object,
    job_id: str,
    queue: Queue | None = None,
    pipeline: redis.client.Pipeline | None = None,
) -> None:
    """Every Kontor job: a JSON-safe argument, a stable id, retries with backoff, failures kept 30 days.

    With a pipeline the job joins the caller's round trip (enqueue_many: several jobs, one round trip).
    """
    intervals = services.settings.worker.retry_intervals
    (queue or services.queue).enqueue_call(
        function,
        args=(argument,),
        job_id=job_id,
        timeout=120,
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
        result_ttl=0,
        failure_ttl=30 * 86400,
        pipeline=pipeline,
    )


def enqueue_many(services: Services, function: str, jobs: list[tuple[object, str]], queue: Queue | None = None) -> None:
    """A job of `function` for each (argument, job id), all in one round trip."""
    if not jobs:
        return
    pipe = services.redis.pipeline()
    for argument, job_id in jobs:
        enqueue(services, function, argument, job_id, queue, pipe)
    pipe.execute()
