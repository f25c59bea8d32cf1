"""The sweep for stranded SMS on real Redis, real SQL (SQLite; PostgreSQL when set), RQ and twilio's REST client
against the stand-in: an owed message no job delivers any more is sent, once, within about the grace period."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

from rq import SimpleWorker
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from adapters import clock
from sms_gateway import outbox, runtime, sweeper, worker
from storage import repository
from storage.models import OutboundMessage
from tests.integration.conftest import new_phone

GRACE = 60.0


def stranded_message(services: runtime.Services, mobile: str, body: str, age: float = 2 * GRACE) -> int:
    """An owed message, created `age` seconds ago, that no job delivers (its job was lost)."""
    with services.db.begin() as db:
        return repository.owe_message(
            db, f"test:{uuid.uuid4().hex}", mobile, body, clock.utcnow() - timedelta(seconds=age)
        ).id


def claim_as(services: runtime.Services, message_id: int, name: str, age: float) -> None:
    when = clock.utcnow() - timedelta(seconds=age)
    with services.db.begin() as db:
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id)
            .values(status="sending", claimed_by=name, claimed_at=when)
        )


def row(services: runtime.Services, message_id: int) -> OutboundMessage:
    with services.db() as db:
        return db.get_one(OutboundMessage, message_id)


def run_jobs(services: runtime.Services) -> None:
    """What a worker does with the queue: every queued job, in this process, then stop."""
    SimpleWorker([services.queue], connection=services.redis).work(burst=True, logging_level="WARNING")


def test_a_pending_message_with_no_job_is_delivered_by_the_sweep_once(world) -> None:
    services, twilio = world
    mobile = new_phone()
    message_id = stranded_message(services, mobile, "lost in a fail-over")
    fresh = stranded_message(services, new_phone(), "its job is on the way", age=1)
    assert sweeper.sweep(services, GRACE) == 1
    assert services.queue.job_ids == [f"deliver-{message_id}"]  # the fresh one is left to its own job
    assert sweeper.sweep(services, GRACE) == 0  # its job is queued: not queued twice
    run_jobs(services)
    assert sweeper.sweep(services, GRACE) == 0 and services.queue.job_ids == []
    outbox.deliver(message_id)  # a late duplicate job (the lost one, come back)
    assert twilio.to(mobile) == ["lost in a fail-over"]
    assert row(services, message_id).status == "sent" and row(services, fresh).status == "pending"


def test_a_scheduled_retry_holds_the_sweep_off_until_it_is_lost(world) -> None:
    services, twilio = world
    mobile = new_phone()
    message_id = stranded_message(services, mobile, "retried later")
    retry = services.queue.enqueue_in(
        timedelta(minutes=10), "sms_gateway.outbox.deliver", message_id, job_id=f"deliver-{message_id}"
    )
    assert sweeper.sweep(services, GRACE) == 0  # its retry is scheduled
    retry.delete()  # the fail-over lost the ScheduledJobRegistry entry and the job with it
    assert sweeper.sweep(services, GRACE) == 1
    run_jobs(services)
    assert twilio.to(mobile) == ["retried later"]


def test_a_broken_account_is_retried_once_per_grace_period_then_sent_once(world) -> None:
    services, twilio = world
    mobile, grace = new_phone(), 2.0  # the columns hold whole seconds: a gap of 2 s counts as 2 to 3
    message_id = stranded_message(services, mobile, "after the token is fixed", age=2 * grace)
    twilio.refuse_until = time.monotonic() + 60  # a rotated token, for longer than any job's retries
    swept, deadline = 0, time.monotonic() + 2.5 * grace
    while time.monotonic() < deadline:  # a sweep every 0.1 s, as if from many workers
        swept += sweeper.sweep(services, grace)
        run_jobs(services)
        time.sleep(0.1)
    held = row(services, message_id)
    assert held.status == "pending" and "20003" in held.error
    assert 2 <= held.attempts <= 3 and swept == held.attempts, (held.attempts, swept)  # of ~50 sweeps
    twilio.refuse_until = 0.0  # fixed
    time.sleep(grace + 1)
    assert sweeper.sweep(services, grace) == 1
    run_jobs(services)
    for _ in range(3):  # later sweeps find nothing owed
        time.sleep(grace / 2)
        assert sweeper.sweep(services, grace) == 0
    assert twilio.to(mobile) == ["after the token is fixed"] and row(services, message_id).status == "sent"


def test_a_sending_message_with_a_live_claimer_is_left_alone(world) -> None:
    services, twilio = world
    elsewhere, here, dead = new_phone(), new_phone(), new_phone()
    ids = [stranded_message(services, mobile, "being sent") for mobile in (elsewhere, here, dead)]
    worker.beat(services.redis, "kontor.vm.1.beats")
    claim_as(services, ids[0], "kontor.vm.1.beats", age=2 * GRACE)  # a slow send, younger than any job may run
    worker._CURRENT["name"] = "kontor.this.2.beats"  # the sweep runs beside this worker's own job thread
    try:
        worker.beat(services.redis, "kontor.this.2.beats")
        claim_as(services, ids[1], "kontor.this.2.beats", age=2 * GRACE)
        claim_as(services, ids[2], "kontor.gone.3.dead", age=2 * GRACE)  # no heartbeat: that worker is dead
        assert sweeper.stranded(services, GRACE) == [ids[2]]
    finally:
        worker._CURRENT.pop("name", None)
    assert sweeper.sweep(services, GRACE) == 1
    run_jobs(services)  # reconciled at the gateway (no record), then sent
    assert twilio.to(elsewhere) == twilio.to(here) == [] and twilio.to(dead) == ["being sent"]
    assert [row(services, i).status for i in ids] == ["sending", "sending", "sent"]


def test_two_workers_sweeping_at_once_queue_and_send_each_message_once(world) -> None:
    services, twilio = world
    mobiles = [new_phone() for _ in range(3)]
    ids = [stranded_message(services, mobile, f"owed {i}") for i, mobile in enumerate(mobiles)]
    barrier, counts = threading.Barrier(4), []

    def sweep() -> None:
        barrier.wait()
        counts.append(sweeper.sweep(services, GRACE))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 3 and sorted(services.queue.job_ids) == sorted(f"deliver-{i}" for i in ids)
    run_jobs(services)
    for message_id in ids:  # a second worker's duplicate job, had one slipped through
        outbox.deliver(message_id)
    assert [twilio.to(m) for m in mobiles] == [[f"owed {i}"] for i in range(3)]


def test_the_heartbeat_sweeps_and_outlives_a_database_error(world) -> None:
    services, twilio = world
    message_id = stranded_message(services, new_phone(), "found by the heartbeat")
    calls: list[int] = []

    def stranded() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("database is locked"))
        sweeper.sweep(services, GRACE)

    heart = worker.Heart(services.redis, "kontor.test.1.heart", [services.queue], stranded=stranded)
    heart.start()
    try:
        deadline = time.monotonic() + 3 * worker.SWEEP_SECONDS
        while f"deliver-{message_id}" not in services.queue.job_ids and time.monotonic() < deadline:
            time.sleep(0.1)
        assert heart.thread.is_alive() and len(calls) >= 2
        assert services.redis.exists(worker.alive_key("kontor.test.1.heart"))
    finally:
        heart.stop()
    assert services.queue.job_ids == [f"deliver-{message_id}"]
