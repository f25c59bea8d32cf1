"""RQ's worker and scheduler on Kontor's Redis client, so retries and scheduled jobs also run under Sentinel.

RQ's scheduler (rq 3.0.0, rq/scheduler.py) rebuilds its connection in its own process from the worker's: the
client's class, its pool's connection class and kwargs, and a plain ConnectionPool (rq/connections.py
parse_connection). A Sentinel-managed connection cannot live in a plain pool (it asks its SentinelConnectionPool
where the primary is), so there the scheduler would never connect and no retry would ever be enqueued again.
Kontor's scheduler builds its connection through the one factory instead.
"""

from __future__ import annotations

import logging
import time
import typing
from typing import Any

import redis
from rq import SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler

from sms_gateway import redis_client
from sms_gateway.settings import Settings

log = logging.getLogger("kontor.scheduler")
PAUSE_SECONDS = 1.0  # between tries while Redis has no primary (a fail-over takes a few seconds)


class Scheduler(RQScheduler):
    """RQ's scheduler whose connection (made again in its own process) comes from Kontor's factory."""

    def __init__(self, *args: Any, settings: Settings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings

    @property
    def connection(self) -> redis.Redis:
        if self._connection is None:  # None again after start(): a client is never carried across the fork
            self._connection = redis_client.connect(self.settings)  # type: ignore[assignment]  # rq: None until set
        return typing.cast(redis.Redis, self._connection)

    def work(self) -> None:
        """RQ's loop, carried through a fail-over: RQ's own ends its process at the first Redis error, and the
        worker would start another only at its next maintenance, minutes later; retries would wait that long."""
        while True:
            try:
                super().work()  # type: ignore[no-untyped-call]  # rq 3.0.0: untyped
                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if self._stop_requested:  # asked to stop: no Redis to release the locks in, they expire
                    return
                log.warning("scheduler lost Redis (%s); trying again in %.0f s", exc, PAUSE_SECONDS)
                time.sleep(PAUSE_SECONDS)


class Worker(SimpleWorker):
    """SimpleWorker (jobs in-process, no fork per job) that starts Kontor's scheduler instead of RQ's own."""

    def __init__(self, *args: Any, settings: Settings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """rq 3.0.0's BaseWorker._start_scheduler, with Scheduler in place of RQScheduler."""
        scheduler: Any = Scheduler(  # Any: rq 3.0.0's scheduler methods are untyped
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
            settings=self.settings,
        )
        self.scheduler = scheduler
        scheduler.acquire_locks()
        if not scheduler.acquired_locks:
            return
        if not burst:
            scheduler.start()
            return
        try:
            scheduler.register_birth()
            scheduler.enqueue_scheduled_jobs()
        finally:
            scheduler.release_locks()
            scheduler.register_death()
