"""`kontor jobs failed|retry`: jobs that used up their retries are visible and replayable (they are idempotent)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from rq import Queue
from rq.registry import FailedJobRegistry

from sms_gateway import runtime
from sms_gateway.settings import Settings


def _failed(services: runtime.Services) -> Iterator[tuple[Queue, FailedJobRegistry, str]]:
    for queue in (services.queue, services.followup):
        registry = FailedJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            yield queue, registry, job_id


def _reason(queue: Queue, job_id: str) -> str:
    job = queue.fetch_job(job_id)
    result = job.latest_result() if job else None
    lines = (result.exc_string or "").strip().splitlines() if result else []
    return lines[-1] if lines else ""


def failed(settings: Settings, out: IO[str]) -> int:
    services = runtime.build(settings)
    count = 0
    for queue, _, job_id in _failed(services):
        out.write(f"{queue.name}\t{job_id}\t{_reason(queue, job_id)}\n")
        count += 1
    out.write(f"{count} failed job(s)\n")
    return 0


def retry(settings: Settings, out: IO[str]) -> int:
    services = runtime.build(settings)
    count = 0
    for _, registry, job_id in list(_failed(services)):
        registry.requeue(job_id)
        count += 1
    out.write(f"{count} job(s) requeued\n")
    return 0
