"""Issue 12: confirmed requests go through the inbox and are finished in batches, on real Redis, SQL, RQ and the
Twilio stand-in: each request stored once and each tracking SMS sent once however the batches fall, one job queued
per idle spell (not per request), a bad request held back alone, and a batch a worker could not finish given back."""

from __future__ import annotations

import json

from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from sms_gateway import batches, worker
from storage.models import OutboundMessage, Request
from tests.integration.conftest import new_phone
from tests.support.hook import confirmed_payload


def push(services, payload: dict) -> None:
    services.confirmed.push([json.dumps(payload)])


def batch_jobs(services) -> list[str]:
    return [j for j in services.queue.job_ids if j.startswith("confirmed-batch-")]


def failing(services, job_id: str) -> bool:
    """The job failed once and waits for its retry (after the last one, `kontor jobs failed` lists it)."""
    job = services.queue.fetch_job(job_id)
    intervals = services.settings.worker.retry_intervals
    return job is not None and job.get_status() == JobStatus.SCHEDULED and job.retries_left == len(intervals) - 1


def stored(services) -> int:
    with services.db() as db:
        return db.scalar(select(func.count()).select_from(Request)) or 0


def tracking_sms(services) -> list[str]:
    with services.db() as db:
        return list(db.scalars(select(OutboundMessage.to).where(OutboundMessage.event_key.like("tracking:%"))))


def test_one_job_drains_many_requests_each_stored_once_each_sms_sent_once(world) -> None:
    services, twilio = world
    payloads = [confirmed_payload(new_phone()) for _ in range(23)]
    for p in payloads:
        push(services, p)
    push(services, payloads[5])  # a repeated `1` (a confirm not announced) pushes the same request again
    assert len(batch_jobs(services)) == 1  # queued by the first push; the others found it waiting

    assert batches.finish_confirmed() == 24  # batches of 10 (worker.batch_size in this test): 10, 10, 4
    assert stored(services) == 23 and sorted(tracking_sms(services)) == sorted(p["mobile"] for p in payloads)
    assert all(len(twilio.to(p["mobile"])) == 1 for p in payloads)
    followups = {i.decode() for i in services.redis.lrange(services.followups.key, 0, -1)}
    assert followups == {p["dialog_id"] for p in payloads}  # each request's follow-up queued, after it was stored
    assert services.confirmed.waiting() == 0 and not services.redis.smembers(services.confirmed.takers)

    push(services, payloads[0])  # once more, long after: stored already, its SMS sent already
    batches.finish_confirmed()
    assert stored(services) == 23 and len(twilio.to(payloads[0]["mobile"])) == 1


def test_a_push_after_the_job_started_queues_the_next_job(world) -> None:
    services, _ = world
    push(services, confirmed_payload(new_phone()))
    push(services, confirmed_payload(new_phone()))
    assert len(batch_jobs(services)) == 1
    services.confirmed.started()  # the job began draining: a request pushed now must not wait for a later confirm
    push(services, confirmed_payload(new_phone()))
    assert len(batch_jobs(services)) == 2


def test_the_job_the_script_writes_is_one_rq_runs(world) -> None:
    services, twilio = world
    payload = confirmed_payload(new_phone())
    push(services, payload)
    worker.run(services, burst=True)  # a real RQ SimpleWorker takes the job the Lua script wrote, then the follow-up
    assert len(twilio.to(payload["mobile"])) == 2  # the tracking number, then the outcome
    assert FailedJobRegistry(queue=services.queue).count == 0 and services.queue.count == 0


def test_an_unreadable_request_waits_alone_in_a_failed_job(world) -> None:
    services, twilio = world
    good = [confirmed_payload(new_phone()) for _ in range(4)]
    bad = dict(confirmed_payload(new_phone()))
    del bad["bill_id"]  # written by an older Kontor, say: it cannot be read
    for p in good[:2] + [bad] + good[2:]:
        push(services, p)
    batches.finish_confirmed()
    assert all(len(twilio.to(p["mobile"])) == 1 for p in good) and not twilio.to(bad["mobile"])
    assert f"finish-{bad['dialog_id']}" in services.queue.job_ids  # its own job, with its own retries
    worker.run(services, burst=True)
    assert failing(services, f"finish-{bad['dialog_id']}")  # retried, then in `kontor jobs failed`


def test_a_batch_whose_transaction_fails_goes_on_request_by_request(world) -> None:
    services, twilio = world
    good = [confirmed_payload(new_phone()) for _ in range(3)]
    bad = confirmed_payload(new_phone(), language="xx")  # no catalogue line: its tracking SMS cannot be written
    for p in [good[0], bad, *good[1:]]:
        push(services, p)
    batches.finish_confirmed()
    assert stored(services) == 0  # the batch's transaction was rolled back: nothing half-stored
    names = set(services.queue.job_ids)
    assert {f"finish-{p['dialog_id']}" for p in [*good, bad]} <= names
    worker.run(services, burst=True)
    assert all(len(twilio.to(p["mobile"])) == 2 for p in good)  # tracking number and outcome, each once
    assert failing(services, f"finish-{bad['dialog_id']}")
    assert FailedJobRegistry(queue=services.queue).count == 0 and not services.queue.job_ids  # the others finished


def test_a_dead_workers_batch_is_given_back_in_order_and_finished_once(world) -> None:
    services, twilio = world
    payloads = [confirmed_payload(new_phone()) for _ in range(5)]
    for p in payloads:
        push(services, p)
    dead = "kontor.gone.1.deadbeef"  # a worker name with no heartbeat: it took a batch, then was killed
    assert len(services.confirmed.take(dead, 3)) == 3
    services.queue.empty()  # and the job that would have drained the rest was lost too (a fail-over)

    assert batches.recover(services, "kontor.live.1.cafe") == 3
    assert [json.loads(r)["dialog_id"] for r in services.redis.lrange(services.confirmed.key, 0, -1)] == [
        p["dialog_id"] for p in payloads
    ]
    assert len(batch_jobs(services)) == 1  # and a job to drain them
    assert batches.finish_confirmed() == 5
    assert all(len(twilio.to(p["mobile"])) == 1 for p in payloads)


def test_a_batch_cut_short_is_given_back_by_its_own_worker_once_no_job_runs(world) -> None:
    services, _ = world
    for _ in range(3):
        push(services, confirmed_payload(new_phone()))
    me = "kontor.here.1.beef"
    worker.beat(services.redis, me)  # alive: only its own sweep may give its batch back
    services.confirmed.take(me, 2)  # a batch job took these, then Redis went away mid-batch and the job failed
    with batches.DRAINING:  # while a batch job runs here, its batch is not left over
        assert batches.recover(services, me) == 0
        assert services.redis.llen(services.confirmed.taken_key(me)) == 2
    assert batches.recover(services, me) == 2
    assert services.confirmed.waiting() == 3 and services.redis.llen(services.confirmed.taken_key(me)) == 0


def test_an_sms_a_batch_cannot_send_now_goes_on_in_a_job_of_its_own(world) -> None:
    services, twilio = world
    payloads = [confirmed_payload(new_phone()) for _ in range(6)]
    for p in payloads:
        push(services, p)
    twilio.fail_next.append(503)  # the gateway is busy for one of them
    batches.finish_confirmed()
    sent = [p for p in payloads if twilio.to(p["mobile"])]
    assert len(sent) == 5
    retry = [j for j in services.queue.job_ids if j.startswith("deliver-")]
    assert len(retry) == 1
    worker.run(services, burst=True)  # its delivery job, and every follow-up
    assert all(len(twilio.to(p["mobile"])) == 2 for p in payloads)  # tracking number and outcome, each once


def test_follow_ups_are_worked_on_in_batches_and_a_failed_one_goes_on_alone(world) -> None:
    services, twilio = world
    payloads = [confirmed_payload(new_phone()) for _ in range(7)]
    for p in payloads:
        push(services, p)
    batches.finish_confirmed()  # stored, tracking numbers sent, follow-ups queued in their inbox
    assert services.followups.waiting() == 7 and len(services.followup.job_ids) == 1  # one batch job for all
    twilio.fail_next.append(503)  # one outcome SMS meets a busy gateway
    assert batches.process_followups() == 7
    assert sum(len(twilio.to(p["mobile"])) == 2 for p in payloads) == 6  # tracking number and outcome
    with services.db() as db:
        decided = db.scalars(select(Request.status)).all()
    assert len(decided) == 7 and "received" not in decided  # every request decided (the sandbox knows no owner)
    assert [j for j in services.followup.job_ids if j.startswith("process-")]  # the unsent outcome: a job of its own
    worker.run(services, burst=True)
    assert all(len(twilio.to(p["mobile"])) == 2 for p in payloads)  # and it went, once


def test_a_confirm_that_arrives_during_follow_ups_is_finished_at_once(world) -> None:
    services, twilio = world
    first = [confirmed_payload(new_phone()) for _ in range(40)]  # several waves of follow-ups
    for p in first:
        push(services, p)
    batches.finish_confirmed()
    tracked = len(twilio.messages)
    later = confirmed_payload(new_phone())

    def confirm_meanwhile(message: dict[str, str]) -> None:  # at the first outcome SMS: follow-ups are under way
        if len(twilio.messages) == tracked + 1:
            push(services, later)

    twilio.on_accept = confirm_meanwhile
    assert batches.process_followups() == 41  # the 40, and the follow-up of the confirm it finished on the way
    order = [m["To"] for m in twilio.messages[tracked:]]
    assert order.count(later["mobile"]) == 2
    assert order.index(later["mobile"]) < max(order.index(p["mobile"]) for p in first)  # not after every follow-up
    assert all(len(twilio.to(p["mobile"])) == 2 for p in [*first, later])
    assert services.confirmed.waiting() == 0 and services.followups.waiting() == 0


def test_follow_ups_end_their_job_for_a_confirm_waiting_between_waves(world) -> None:
    services, twilio = world
    first = [confirmed_payload(new_phone()) for _ in range(40)]
    for p in first:
        push(services, p)
    batches.finish_confirmed()
    size = services.settings.worker.followup_concurrency
    with batches.DRAINING:  # a confirmed batch runs here already (the job cannot finish it on the way)...
        push(services, confirmed_payload(new_phone()))  # ...when a subscriber confirms
        assert batches.process_followups() == size  # one wave, then it ends, for the main queue's job
    assert services.followups.waiting() == 40 - size and services.confirmed.waiting() == 1
    assert services.redis.get(services.followups.kick_key).decode() in services.followup.job_ids  # it goes on after
