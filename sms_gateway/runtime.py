"""The composition root: builds real Redis, SQL, subscriber-system and SMS clients from the settings, once."""
from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import redis
from rq import Queue
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from adapters.cis import SandboxSubscriberSystem, SubscriberSystem
from adapters.sms import OutboxSender, SmsSender, TwilioSender
from dialogs import Rules
from dialogs.catalogue import Catalogue
from sms_gateway.settings import Settings, load
from storage.db import make_engine, session_factory
from storage.sessions import SessionStore

TEHRAN = ZoneInfo("Asia/Tehran")


def tehran_now() -> datetime:
    return datetime.now(TEHRAN).replace(microsecond=0)


@functools.cache
def catalogue() -> Catalogue:
    return Catalogue.from_yaml(importlib.resources.files("dialogs").joinpath("messages.yaml").read_text("utf-8"))


@dataclass
class Services:
    settings: Settings
    redis: redis.Redis
    sessions: SessionStore
    queue: Queue
    engine: Engine
    db: sessionmaker
    cis: SubscriberSystem
    sms: SmsSender
    rules: Rules


def build(settings: Settings) -> Services:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2,
                                  health_check_interval=30, retry_on_timeout=True)
    ttl = settings.dialog.idle_minutes * 60 + 3600
    engine = make_engine(settings.database_url)
    return Services(
        settings=settings, redis=client,
        sessions=SessionStore(client, ttl, settings.dialog.lock_seconds),
        queue=Queue(settings.worker.queue, connection=client),
        engine=engine, db=session_factory(engine),
        cis=_subscriber_system(settings), sms=_sender(settings),
        rules=rules_from(settings),
    )


def rules_from(settings: Settings) -> Rules:
    r, d = settings.readings, settings.documents
    return Rules(catalogue(), settings.dialog.idle_minutes, settings.dialog.default_language, r.description_max,
                 r.usual_factor, r.hours_per_day, r.connection_kw, r.demand_factor,
                 d.require_receipt, d.require_national_card)


def _subscriber_system(settings: Settings) -> SubscriberSystem:
    return SandboxSubscriberSystem()


def _sender(settings: Settings) -> SmsSender:
    t = settings.twilio
    if settings.outbound_via_twilio:
        return TwilioSender(t.account_sid, t.auth_token, t.from_number, t.api_base_url)
    return OutboxSender()


@functools.cache
def from_environment() -> Services:
    """The worker's services: settings named by KONTOR_CONFIG, built once per process."""
    return build(load())
