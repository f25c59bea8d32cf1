"""Taking back a dead worker's jobs, judged by heartbeats on a real Redis, never by pids or hostnames."""

from __future__ import annotations

import threading
import time

import redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job

from sms_gateway import worker


def started_by(queue: Queue, worker_name: str, job_id: str) -> Job:
    """A job taken off the queue and started by the named worker, exactly as RQ records it."""
    job = queue.enqueue_call("sms_gateway.worker.alive_key", args=("x",), job_id=job_id)
    queue.remove(job.id)
    with queue.connection.pipeline() as pipe:
        Execution.create(job, ttl=600, pipeline=pipe, worker_name=worker_name)
        pipe.execute()
    return job


def test_two_workers_sweeping_at_once_requeue_an_orphan_once(redis_client: redis.Redis) -> None:
    queue = Queue("kontor", connection=redis_client)
    started_by(queue, "kontor.vm.prod.4242.dead0001", "finish-a")
    barrier, counts = threading.Barrier(4), []

    def sweep() -> None:
        barrier.wait()
        counts.append(worker.recover_orphans(redis_client, [queue], worker.is_alive(redis_client)))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 1
    assert queue.job_ids == ["finish-a"]


def test_a_live_worker_elsewhere_keeps_its_job_whatever_its_pid_or_hostname(redis_client: redis.Redis) -> None:
    """Same hostname as ours and a pid that does not exist here (another pid namespace), a dotted hostname."""
    queue = Queue("kontor", connection=redis_client)
    for i, name in enumerate([f"kontor.{worker.socket.gethostname()}.999999.abcd0001", "kontor.vm.prod.1.abcd0002"]):
        worker.beat(redis_client, name)
        started_by(queue, name, f"finish-live-{i}")
    assert worker.recover_orphans(redis_client, [queue], worker.is_alive(redis_client)) == 0
    assert queue.job_ids == []


def test_a_dead_worker_with_a_dotted_hostname_is_judged_dead(redis_client: redis.Redis) -> None:
    queue = Queue("kontor", connection=redis_client)
    started_by(queue, "kontor.vm.prod.1.abcd0003", "finish-dotted")
    assert worker.recover_orphans(redis_client, [queue], worker.is_alive(redis_client)) == 1
    assert queue.job_ids == ["finish-dotted"]


def test_a_restarted_worker_with_the_same_pid_gets_a_name_of_its_own() -> None:
    names = {worker.worker_name() for _ in range(50)}
    assert len(names) == 50


def test_a_running_worker_takes_back_an_orphan_within_seconds(redis_client: redis.Redis) -> None:
    """A worker that is already running (not only one that starts) sweeps for orphans on its heartbeat."""
    queue = Queue("kontor", connection=redis_client)
    beater = worker.Heart(redis_client, "kontor.test.1.beat0001", [queue])
    beater.start()
    try:
        time.sleep(0.2)
        started_by(queue, "kontor.gone.7.dead0009", "finish-late")
        deadline = time.monotonic() + worker.SWEEP_SECONDS + worker.BEAT_SECONDS + 2
        while time.monotonic() < deadline and queue.job_ids != ["finish-late"]:
            time.sleep(0.2)
        assert queue.job_ids == ["finish-late"]
    finally:
        beater.stop()
    assert not redis_client.exists(worker.alive_key("kontor.test.1.beat0001"))
