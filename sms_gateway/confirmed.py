"""The confirmed requests' inbox: a Redis list the webhook pushes to and RQ batch jobs drain, many per job.

One RQ job per request spent most of a worker's time in RQ's own bookkeeping (about 3 ms a job on a 2-core machine,
more than storing the request). So a confirm pushes its request here, in the save's own round trip, and a job is
queued only when none is waiting: the push and that decision are one script (`_PUSH`), so a request is never pushed
without a job that will see it. Keys (one hash tag, one Redis Cluster slot):
  kontor:{confirmed}:inbox            requests waiting (ConfirmedRequest JSON), oldest first
  kontor:{confirmed}:kick             the id of the batch job queued and not yet started (none: the next push kicks)
  kontor:{confirmed}:taken:<worker>   the batch a worker is finishing; emptied when done, put back if it died
  kontor:{confirmed}:takers           the workers that may hold a batch
A job deletes the kick before it drains, so a request pushed after that kicks a new job; a request pushed before it
is in the list the job drains. The job is written as RQ 3.0.0 writes one (Queue.create_job, Job.to_dict, the queue's
list and the set of queues), inside the script: rq is pinned for this (docs/design.md).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue, Retry
from rq.job import Job
from rq.utils import now

log = logging.getLogger("kontor.confirmed")
PREFIX = "kontor:{confirmed}"
INBOX, KICK, TAKERS = f"{PREFIX}:inbox", f"{PREFIX}:kick", f"{PREFIX}:takers"
KICK_MS = 60_000  # a kick whose job was lost (never started) stops counting after this: the next push kicks again
JOB = "sms_gateway.jobs.finish_confirmed"

# KEYS: inbox, kick, job hash, queue list, RQ's set of queues. ARGV: request JSON ("" = kick only), job id, kick ms,
# RQ's job key prefix, then the job hash as field, value pairs. Returns 1 when it queued the job. A kick whose job is
# no longer waiting (lost with a fail-over, or failed before it began) counts as none.
_PUSH = """
if ARGV[1] ~= '' then redis.call('RPUSH', KEYS[1], ARGV[1]) end
local held = redis.call('GET', KEYS[2])
if held then
  local status = redis.call('HGET', ARGV[4] .. held, 'status')
  if status == 'queued' or status == 'scheduled' then return 0 end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('HSET', KEYS[3], unpack(ARGV, 5))
redis.call('SADD', KEYS[5], KEYS[4])
redis.call('RPUSH', KEYS[4], ARGV[2])
return 1
"""
# KEYS: inbox, taken, takers. ARGV: how many, worker. Moves up to ARGV[1] requests into the worker's batch.
_TAKE = """
local items = redis.call('LPOP', KEYS[1], ARGV[1])
if not items then return {} end
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('RPUSH', KEYS[2], unpack(items))
return items
"""
# KEYS: inbox, taken, takers. ARGV: worker. A batch back at the head of the inbox, in its order.
_GIVE_BACK = """
local items = redis.call('LRANGE', KEYS[2], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return #items
"""


def taken_key(worker: str) -> str:
    return f"{PREFIX}:taken:{worker}"


class Inbox:
    """Push (the webhook), take and finish (the batch job), give back (a dead worker's batch)."""

    def __init__(self, client: redis.Redis, queue: Queue, retry_intervals: list[int]) -> None:
        self.client, self.queue, self.intervals = client, queue, retry_intervals
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    def push(self, request: dict[str, Any], pipeline: redis.client.Pipeline | None = None) -> None:
        """Queue a confirmed request (in the caller's pipeline, when given): EVAL, not EVALSHA, so a Redis that
        lost its scripts cannot fail this command while the save after it in the same pipeline succeeds."""
        self._run(json.dumps(request, ensure_ascii=False, separators=(",", ":")), pipeline)

    def kick(self) -> bool:
        """Queue a batch job unless one is waiting already; True when this call queued it."""
        return bool(self._run("", None))

    def _run(self, payload: str, pipeline: redis.client.Pipeline | None) -> Any:
        job = self._job()
        keys = [INBOX, KICK, job.key, self.queue.key, self.queue.redis_queues_keys]
        args = [
            payload,
            job.id,
            KICK_MS,
            job.redis_job_namespace_prefix,
            *(item for pair in job.to_dict().items() for item in pair),
        ]
        return (pipeline if pipeline is not None else self.client).eval(_PUSH, len(keys), *keys, *args)

    def _job(self) -> Job:
        """The batch job as RQ 3.0.0's enqueue would store it (Queue.create_job, then Job.to_dict)."""
        job_id = f"finish-batch-{secrets.token_hex(8)}"
        retry = Retry(max=len(self.intervals), interval=self.intervals) if self.intervals else None
        job = self.queue.create_job(
            JOB, args=(job_id,), job_id=job_id, timeout=120, result_ttl=0, failure_ttl=30 * 86400, retry=retry
        )
        job.enqueued_at = now()
        return job

    def take(self, worker: str, count: int) -> list[str]:
        """Up to `count` requests, oldest first, now in `worker`'s batch until done() or give_back()."""
        items = self._take(keys=[INBOX, taken_key(worker), TAKERS], args=[count, worker])
        return [i.decode() if isinstance(i, bytes) else i for i in items]

    def started(self) -> None:
        """A batch job starts draining: the next push queues a job again."""
        self.client.delete(KICK)

    def done(self, worker: str) -> None:
        """The batch is finished (stored, or handed to jobs of its own): forget it."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(taken_key(worker))
        pipe.srem(TAKERS, worker)
        pipe.execute()

    def give_back(self, worker: str) -> int:
        """Put `worker`'s batch back at the head of the inbox; how many requests it held."""
        return int(self._give_back(keys=[INBOX, taken_key(worker), TAKERS], args=[worker]))

    def waiting(self) -> int:
        return int(self.client.llen(INBOX))

    def give_back_dead(self, alive: Callable[[str], bool]) -> int:
        """Give back the batches of workers that no longer beat; how many requests went back.

        A taker that is not a `kontor worker` (a test calling the job in-process) has no heartbeat: left alone."""
        moved = 0
        for raw in self.client.smembers(TAKERS):
            name = raw.decode() if isinstance(raw, bytes) else raw
            if name.startswith("kontor.") and not alive(name):
                moved += self.give_back(name)
        if moved:
            log.warning("gave back %d confirmed request(s) a dead worker had taken", moved)
        return moved
