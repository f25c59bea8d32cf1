"""`kontor worker`: an RQ SimpleWorker that takes back, once, the jobs of workers that died.

A worker is judged alive by its own heartbeat key in Redis, refreshed every few seconds by a thread: not by its
pid or hostname, which another container (another pid namespace, the same hostname, pid 1 again) can share.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable

import redis
from rq import Queue
from rq.executions import Execution
from rq.registry import StartedJobRegistry
from sqlalchemy.exc import SQLAlchemyError

from sms_gateway import scheduling
from sms_gateway.runtime import Services

log = logging.getLogger("kontor.worker")
BEAT_SECONDS = 3  # how often a worker says it is alive
ALIVE_SECONDS = 10  # how long one beat counts: a worker silent this long is dead
SWEEP_SECONDS = 5  # how often each live worker looks for orphans of dead ones


_CURRENT: dict[str, str] = {}  # the name this process runs its RQ worker under, once run() has started


def current_worker() -> str:
    """This process's worker name (it beats in Redis), or "" when this process is not a `kontor worker`."""
    return _CURRENT.get("name", "")


def worker_name() -> str:
    """Unique per start: a restarted worker (same host, same pid) never collides with its dead predecessor."""
    return f"kontor.{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(4)}"


def alive_key(name: str) -> str:
    """A worker's heartbeat: prefixed like every Kontor key, hash-tagged by the worker's unique name."""
    return f"kontor:worker:{{{name}}}:alive"


def beat(client: redis.Redis, name: str) -> None:
    client.set(alive_key(name), "1", ex=ALIVE_SECONDS)


def is_alive(client: redis.Redis) -> Callable[[str], bool]:
    return lambda name: bool(client.exists(alive_key(name)))


def recover_orphans(client: redis.Redis, queues: list[Queue], alive: Callable[[str], bool]) -> int:
    """Requeue, at the front, each started job whose worker no longer beats; each orphan exactly once.

    The registry entry is removed first and only the caller whose ZREM removed it requeues the job, so two
    workers sweeping together never requeue the same job twice. Every Kontor job is idempotent.
    """
    recovered = 0
    for queue in queues:
        registry = StartedJobRegistry(queue=queue)
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            try:
                owner = Execution.fetch(execution_id, job_id, connection=client).worker_name
            except ValueError:  # its execution expired: RQ's own cleanup moves the entry to the failed jobs
                log.warning("started job %s has no execution record any more: left to RQ's cleanup", job_id)
                continue
            if not owner or alive(owner):
                continue
            if not client.zrem(registry.key, f"{job_id}:{execution_id}"):
                continue  # another worker took this orphan first
            job = queue.fetch_job(job_id)
            if job is not None:
                queue.enqueue_job(job, at_front=True)
                recovered += 1
    if recovered:
        log.warning("requeued %d job(s) left behind by a dead worker", recovered)
    return recovered


class Heart:
    """Beats for this worker and sweeps for orphans (RQ's, and SQL's stranded SMS), in a thread beside the jobs."""

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        queues: list[Queue],
        stranded: Callable[[], object] | None = None,
        inboxes: Callable[[], object] | None = None,
    ) -> None:
        self.client, self.name, self.queues, self.stranded = client, name, queues, stranded
        self.inboxes = inboxes  # the sweep of the inboxes (sms_gateway.batches.recover)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kontor-heartbeat", daemon=True)

    def start(self) -> None:
        beat(self.client, self.name)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(BEAT_SECONDS * 2)
        self.client.delete(alive_key(self.name))

    def _run(self) -> None:
        ticks = 0
        while not self.stopped.wait(BEAT_SECONDS if ticks else 0):
            try:
                beat(self.client, self.name)
                if ticks % max(1, SWEEP_SECONDS // BEAT_SECONDS) == 0:
                    recover_orphans(self.client, self.queues, is_alive(self.client))
                    self._sweep_inboxes()
                    self._sweep_stranded()
            except redis.RedisError as exc:  # Redis away: beat again when it is back
                log.warning("worker heartbeat failed: %s", exc)
            except Exception as exc:  # noqa: BLE001 - anything else must not stop the beats either: logged
                log.exception("worker heartbeat's sweep failed: %s", exc)
            ticks += 1

    def _sweep_inboxes(self) -> None:
        """Whatever goes wrong there must not stop the beats (a worker that stops beating loses its batches)."""
        if self.inboxes is None:
            return
        try:
            self.inboxes()
        except Exception as exc:  # noqa: BLE001 - logged; the next sweep tries again
            log.warning("sweep of the inboxes failed: %s", exc)

    def _sweep_stranded(self) -> None:
        """SQL away must not stop the beats: a worker that stops beating has its jobs taken from it."""
        if self.stranded is None:
            return
        try:
            self.stranded()
        except SQLAlchemyError as exc:  # SQL down or locked: the next sweep tries again
            log.warning("sweep for stranded SMS failed: %s", exc)


def run(services: Services, burst: bool = False) -> None:
    """Queues in priority order: every waiting tracking number goes out before any follow-up work."""
    queues = [services.queue, services.followup]
    name = _CURRENT["name"] = worker_name()
    # SimpleWorker runs jobs in-process: no fork per job, so one worker process finishes many a second.
    # Its scheduler (retries, scheduled jobs) connects through Kontor's Redis factory: Sentinel works there too.
    worker = scheduling.Worker(queues, connection=services.redis, name=name, settings=services.settings)
    from sms_gateway import batches, sweeper  # here, not at the top: they import the outbox, which imports this module

    grace = services.settings.worker.stranded_after_seconds
    heart = Heart(
        services.redis,
        name,
        queues,
        stranded=lambda: sweeper.sweep(services, grace),
        inboxes=lambda: batches.recover(services, name),
    )
    heart.start()
    try:
        recover_orphans(services.redis, queues, is_alive(services.redis))
        worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
    finally:
        heart.stop()
        _CURRENT.pop("name", None)
