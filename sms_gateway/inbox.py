"""Inboxes: Redis lists that RQ batch jobs drain, many items per job — the confirmed requests, and their follow-ups.

One RQ job per request spent most of a worker's time in RQ's own bookkeeping (about 3 ms a job on a 2-core machine,
more than storing the request). So a confirm pushes its request to an inbox, in the save's own round trip, and a job
is queued only when none is waiting: the push and that decision are one script (`_PUSH`), so an item is never pushed
without a job that will see it. Keys of an inbox `<name>` (one hash tag, one Redis Cluster slot):
  kontor:{<name>}:inbox            items waiting, oldest first
  kontor:{<name>}:kick             the id of the batch job queued and not yet started (none: the next push kicks)
  kontor:{<name>}:taken:<worker>   the batch a worker is working on; emptied when done, put back if it died
  kontor:{<name>}:takers           the workers that may hold a batch
A job deletes the kick before it drains, so an item pushed after that kicks a new job; an item pushed before it is
in the list the job drains. The job is written as RQ 3.0.0 writes one (Queue.create_job, Job.to_dict, the queue's
list and the set of queues), inside the script: rq is pinned for this (docs/design.md).

Two inboxes: `confirmed` (ConfirmedRequest JSON, drained by sms_gateway.batches.finish_confirmed on the main queue)
and `followup` (dialog ids, drained by sms_gateway.batches.process_followups on the follow-up queue).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue, Retry
from rq.job import Job
from rq.utils import now

log = logging.getLogger("kontor.inbox")
KICK_MS = 60_000  # a kick whose job was lost (never started) stops counting after this: the next push kicks again

# KEYS: inbox, kick, job hash, queue list, RQ's set of queues. ARGV: job id, kick ms, RQ's job key prefix, the number
# of items n, the n items, then the job hash as field, value pairs. Returns 1 when it queued the job. A kick whose
# job is no longer queued or scheduled for a retry (lost with a fail-over, failed for good) counts as none; a job
# scheduled for its retry still counts: it drains when it runs. The job's hash is read by a key built here, outside
# KEYS: RQ's keys are not Cluster-ready anyway (docs/production.md).
_PUSH = """
local n = tonumber(ARGV[4])
if n > 0 then redis.call('RPUSH', KEYS[1], unpack(ARGV, 5, 4 + n)) end
local held = redis.call('GET', KEYS[2])
if held then
  local status = redis.call('HGET', ARGV[3] .. held, 'status')
  if status == 'queued' or status == 'scheduled' then return 0 end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[3], unpack(ARGV, 5 + n))
redis.call('SADD', KEYS[5], KEYS[4])
redis.call('RPUSH', KEYS[4], ARGV[1])
return 1
"""
# KEYS: inbox, taken, takers. ARGV: how many, worker. Moves up to ARGV[1] items into the worker's batch; a batch the
# worker has not finished (its last job failed half-way) comes back first, whole, before anything new is taken.
_TAKE = """
local left = redis.call('LRANGE', KEYS[2], 0, -1)
if #left > 0 then return left end
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


class Inbox:
    """Push (the webhook, a batch job), take and finish (a batch job), give back (a dead worker's batch)."""

    def __init__(self, client: redis.Redis, name: str, queue: Queue, job: str, retry_intervals: list[int]) -> None:
        self.client, self.name, self.queue, self.function, self.intervals = client, name, queue, job, retry_intervals
        prefix = f"kontor:{{{name}}}"
        self.key, self.kick_key, self.takers = f"{prefix}:inbox", f"{prefix}:kick", f"{prefix}:takers"
        self._taken_prefix = f"{prefix}:taken:"
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    def taken_key(self, worker: str) -> str:
        return self._taken_prefix + worker

    def push(self, items: list[str], pipeline: redis.client.Pipeline | None = None) -> None:
        """Queue items (in the caller's pipeline, when given): EVAL, not EVALSHA, so a Redis that lost its scripts
        cannot fail this command while the save after it in the same pipeline succeeds."""
        self._run(items, pipeline)

    def kick(self) -> bool:
        """Queue a batch job unless one is waiting already; True when this call queued it."""
        return bool(self._run([], None))

    def _run(self, items: list[str], pipeline: redis.client.Pipeline | None) -> Any:
        job = self._job()
        keys = [self.key, self.kick_key, job.key, self.queue.key, self.queue.redis_queues_keys]
        fields = [item for pair in job.to_dict().items() for item in pair]
        args = [job.id, KICK_MS, job.redis_job_namespace_prefix, len(items), *items, *fields]
        return (pipeline if pipeline is not None else self.client).eval(_PUSH, len(keys), *keys, *args)

    def _job(self) -> Job:
        """The batch job as RQ 3.0.0's enqueue would store it (Queue.create_job, then Job.to_dict)."""
        job_id = f"{self.name}-batch-{secrets.token_hex(8)}"
        retry = Retry(max=len(self.intervals), interval=self.intervals) if self.intervals else None
        job = self.queue.create_job(
            self.function, args=(job_id,), job_id=job_id, timeout=120, result_ttl=0, failure_ttl=30 * 86400, retry=retry
        )
        job.enqueued_at = now()
        return job

    def started(self) -> None:
        """A batch job starts draining: the next push queues a job again."""
        self.client.delete(self.kick_key)

    def take(self, worker: str, count: int) -> list[str]:
        """Up to `count` items, oldest first, now in `worker`'s batch until done() or give_back(); the worker's
        unfinished batch, when it has one, instead (so done() never drops a batch a failed job left)."""
        items = self._take(keys=[self.key, self.taken_key(worker), self.takers], args=[count, worker])
        return [i.decode() if isinstance(i, bytes) else i for i in items]

    def done(self, worker: str) -> None:
        """The batch is finished (done, or handed to jobs of its own): forget it."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.taken_key(worker))
        pipe.srem(self.takers, worker)
        pipe.execute()

    def give_back(self, worker: str) -> int:
        """Put `worker`'s batch back at the head of the inbox; how many items it held."""
        return int(self._give_back(keys=[self.key, self.taken_key(worker), self.takers], args=[worker]))

    def waiting(self) -> int:
        return int(self.client.llen(self.key))

    def give_back_dead(self, alive: Callable[[str], bool]) -> int:
        """Give back the batches of workers that no longer beat; how many items went back.

        A taker that is not a `kontor worker` (a test calling the job in-process) has no heartbeat: left alone."""
        moved = 0
        for raw in self.client.smembers(self.takers):
            name = raw.decode() if isinstance(raw, bytes) else raw
            if name.startswith("kontor.") and not alive(name):
                moved += self.give_back(name)
        if moved:
            log.warning("gave back %d item(s) of %s a dead worker had taken", moved, self.name)
        return moved
