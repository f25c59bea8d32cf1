"""`kontor jobs failed|retry`: finishing jobs that used up their retries are visible and replayable."""
from __future__ import annotations

from typing import IO

from rq.registry import FailedJobRegistry

from sms_gateway import runtime
from sms_gateway.settings import Settings


def failed(settings: Settings, out: IO[str]) -> int:
    services = runtime.build(settings)
    registry = FailedJobRegistry(queue=services.queue)
    ids = registry.get_job_ids()
    for job_id in ids:
        job = services.queue.fetch_job(job_id)
        reason = (job.latest_result().exc_string or "").strip().splitlines()[-1:] if job and job.latest_result() else []
        out.write(f"{job_id}\t{reason[0] if reason else ''}\n")
    out.write(f"{len(ids)} failed job(s)\n")
    return 0


def retry(settings: Settings, out: IO[str]) -> int:
    services = runtime.build(settings)
    registry = FailedJobRegistry(queue=services.queue)
    ids = registry.get_job_ids()
    for job_id in ids:
        registry.requeue(job_id)
    out.write(f"{len(ids)} job(s) requeued\n")
    return 0
