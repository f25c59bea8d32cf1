"""The one Redis client of every Kontor process (web, worker, desk, metrics, phone…): redis.url or Sentinel's primary.

With `redis.sentinel.hosts` the client asks the Sentinels which server is the primary and asks again after a
connection error, so a fail-over needs no restart: the commands in flight fail (the webhook answers "send it
again"), the next ones reach the promoted replica.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

import redis
from redis.sentinel import Sentinel

from sms_gateway.settings import Settings

# Bounded waits: a dead server is noticed in seconds; idle connections are checked before use.
OPTIONS: dict[str, Any] = {
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    "health_check_interval": 30,
    "retry_on_timeout": True,
}
REPLICA_WAIT_MS = 500  # how long a confirm waits for one replica to acknowledge it (WAIT 1 <ms>)


def connect(settings: Settings, max_connections: int | None = None) -> redis.Redis:
    """A client of the primary: from `redis.url`, or followed through fail-overs by the Sentinels.

    `max_connections` sizes the pool for a threaded web worker (None: redis-py's default)."""
    pool = {} if max_connections is None else {"max_connections": max_connections}
    if not settings.redis.uses_sentinel:
        return redis.Redis.from_url(settings.redis_url, **OPTIONS, **pool)
    sentinel = settings.redis.sentinel
    guards = {"socket_timeout": 1, "socket_connect_timeout": 1, "password": sentinel.password or None}
    make: Any = Sentinel  # Any: redis-py's Sentinel is untyped
    sentinels = make(sentinel.addresses, sentinel_kwargs=guards, **OPTIONS)
    client: redis.Redis = sentinels.master_for(sentinel.master, **_data_auth(settings.redis.url), **pool)
    return client


def _data_auth(url: str) -> dict[str, Any]:
    """The primary's and replicas' own user, password and db number, when `redis.url` names them."""
    if not url:
        return {}
    parsed = urlparse(url)
    auth: dict[str, Any] = {}
    if parsed.username:
        auth["username"] = unquote(parsed.username)
    if parsed.password:
        auth["password"] = unquote(parsed.password)
    if parsed.path.strip("/").isdigit():
        auth["db"] = int(parsed.path.strip("/"))
    return auth


def replica_wait_ms(settings: Settings) -> int:
    """0 = no WAIT (one server, nothing to fail over to); with Sentinel a confirm waits for one replica."""
    return REPLICA_WAIT_MS if settings.redis.uses_sentinel else 0
