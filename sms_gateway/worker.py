"""`kontor worker`: an RQ SimpleWorker that first takes back the jobs a killed worker on this host left behind."""
from __future__ import annotations

import logging
import os
import socket

from rq import SimpleWorker
from rq.registry import StartedJobRegistry

from sms_gateway.runtime import Services

log = logging.getLogger("kontor.worker")


def worker_name(pid: int | None = None) -> str:
    """host and pid in the name, so a restarted worker can tell which started jobs lost their worker."""
    return f"kontor.{socket.gethostname()}.{pid or os.getpid()}"


def _dead_here(name: str) -> bool:
    prefix = worker_name(1)[: -len("1")]
    if not name.startswith(prefix):
        return False          # another host's worker: RQ's own TTL clean-up handles it
    try:
        os.kill(int(name[len(prefix):]), 0)
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:
        return False
    return False


def recover_orphans(services: Services) -> int:
    """Jobs started by a worker of this host that died (SIGKILL, OOM) go back on the queue at once.

    Every Kontor job is idempotent, so running one again is always safe; without this, RQ would wait
    for the job's started-registry entry to expire (its timeout + 60 s) and a maintenance pass after that.
    """
    recovered = 0
    for queue in (services.queue, services.followup):
        registry = StartedJobRegistry(queue=queue)
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            job = queue.fetch_job(job_id)
            if job is None or not _dead_here(job.worker_name or ""):
                continue
            services.redis.zrem(registry.key, f"{job_id}:{execution_id}")
            queue.enqueue_job(job, at_front=True)
            recovered += 1
    if recovered:
        log.warning("requeued %d job(s) left behind by a dead worker", recovered)
    return recovered


def run(services: Services, burst: bool = False) -> None:
    # SimpleWorker runs jobs in-process: no fork per job, so one worker process finishes many a second.
    # queues in priority order: every waiting tracking number goes out before any follow-up work
    worker = SimpleWorker([services.queue, services.followup], connection=services.redis, name=worker_name())
    recover_orphans(services)
    worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
