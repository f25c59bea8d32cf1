"""Issue 12 review: a batch job that fails half-way never loses its batch to the next job of the same worker, and a
send thread that fails never leaves another one sending behind a row already recorded (which would send twice)."""

from __future__ import annotations

import json
import time

import pytest
import redis
from rq.registry import StartedJobRegistry
from rq.timeouts import JobTimeoutException
from sqlalchemy import select

from sms_gateway import batches, outbox, outbox_batch, worker
from sms_gateway.outbox import claimer
from storage.models import OutboundMessage, Request
from tests.integration.conftest import new_phone
from tests.support.hook import confirmed_payload


def push(services, payload: dict) -> None:
    services.confirmed.push([json.dumps(payload)])


def statuses(services, payloads: list[dict]) -> dict[str, str]:
    with services.db() as db:
        rows = db.execute(
            select(Request.dialog_id, Request.status).where(Request.dialog_id.in_([p["dialog_id"] for p in payloads]))
        )
        return dict(rows.all())


def test_a_batch_a_failed_job_left_is_finished_by_the_next_job_not_dropped(world, monkeypatch) -> None:
    services, twilio = world
    first = [confirmed_payload(new_phone()) for _ in range(3)]
    for p in first:
        push(services, p)
    real, calls = batches.follow_up, []

    def blip(services, done):  # Redis drops the connection once, right after the batch was stored
        calls.append(1)
        if len(calls) == 1:
            raise redis.exceptions.ConnectionError("Connection reset by peer")
        return real(services, done)

    monkeypatch.setattr(batches, "follow_up", blip)
    with pytest.raises(redis.exceptions.ConnectionError):  # the job fails
        batches.finish_confirmed()
    assert services.redis.llen(services.confirmed.taken_key(claimer())) == 3  # still taken: not lost
    later = confirmed_payload(new_phone())
    push(services, later)  # the next batch job runs here before the heartbeat's sweep
    batches.finish_confirmed()
    followups = {i.decode() for i in services.redis.lrange(services.followups.key, 0, -1)}
    assert followups == {p["dialog_id"] for p in [*first, later]}  # every follow-up queued
    assert all(len(twilio.to(p["mobile"])) == 1 for p in [*first, later])  # every tracking SMS, once
    batches.process_followups()
    assert set(statuses(services, [*first, later]).values()) - {"received"}  # decided
    assert "received" not in statuses(services, [*first, later]).values()


def test_a_batch_neither_stored_nor_handed_off_is_kept_for_the_next_job(world, monkeypatch) -> None:
    services, twilio = world
    first = [confirmed_payload(new_phone()) for _ in range(3)]
    for p in first:
        push(services, p)
    state = {"n": 0}
    real_store, real_hand_off = batches.store, batches.hand_off

    def store(services, requests):
        state["n"] += 1
        if state["n"] == 1:
            raise RuntimeError("SQL away (the worker's network hiccups)")
        return real_store(services, requests)

    def hand_off(services, payloads):
        if state["n"] == 1:
            raise redis.exceptions.ConnectionError("and Redis too")
        return real_hand_off(services, payloads)

    monkeypatch.setattr(batches, "store", store)
    monkeypatch.setattr(batches, "hand_off", hand_off)
    with pytest.raises(redis.exceptions.ConnectionError):  # the job fails
        batches.finish_confirmed()
    push(services, confirmed_payload(new_phone()))
    batches.finish_confirmed()  # the next job, same process, before the heartbeat's sweep
    assert set(statuses(services, first)) == {p["dialog_id"] for p in first}  # stored after all
    assert all(len(twilio.to(p["mobile"])) == 1 for p in first)


def test_a_failing_send_thread_never_leaves_another_sending_behind_a_recorded_row(world, monkeypatch) -> None:
    services, twilio = world
    a, b = confirmed_payload(new_phone()), confirmed_payload(new_phone())
    push(services, b)  # B first in the batch: its failure is seen at once
    push(services, a)
    real = outbox_batch._throttled_attempt

    def attempt(services, owed, stop):
        if owed.to == a["mobile"]:  # A waits for the sender number's next slot, then sends
            time.sleep(1.0)
            return real(services, owed, stop)
        time.sleep(0.2)
        raise redis.exceptions.ConnectionError("B's throttle call met a Redis blip")

    monkeypatch.setattr(outbox_batch, "_throttled_attempt", attempt)
    batches.finish_confirmed()
    monkeypatch.setattr(outbox_batch, "_throttled_attempt", real)
    with services.db() as db:
        rows = {
            m.to: m
            for m in db.scalars(select(OutboundMessage).where(OutboundMessage.to.in_([a["mobile"], b["mobile"]])))
        }
    assert rows[a["mobile"]].status == "sent" and len(twilio.to(a["mobile"])) == 1  # A's send was waited for
    assert rows[b["mobile"]].status == "uncertain"  # B: what it met is recorded; its own job asks the gateway first
    b_id = rows[b["mobile"]].id
    assert f"deliver-{b_id}" in services.queue.job_ids
    outbox.deliver(b_id)
    assert len(twilio.to(b["mobile"])) == 1 and len(twilio.to(a["mobile"])) == 1  # each once


def test_a_batch_that_fails_every_time_goes_on_item_by_item_and_holds_nobody_back(world) -> None:
    services, twilio = world
    good = [confirmed_payload(new_phone()) for _ in range(3)]
    services.confirmed.push([json.dumps({"dialog_id": 5})] + [json.dumps(p) for p in good])  # not a request at all
    batches.finish_confirmed()
    assert services.redis.llen(services.confirmed.taken_key(claimer())) == 0  # nothing left to block the inbox
    later = confirmed_payload(new_phone())
    push(services, later)
    batches.finish_confirmed()
    assert set(statuses(services, [later])) == {later["dialog_id"]}  # the next request is not held back
    worker.run(services, burst=True)  # the handed-off items run as finish_request jobs of their own
    assert set(statuses(services, good)) == {p["dialog_id"] for p in good}
    assert all(len(twilio.to(p["mobile"])) == 2 for p in [*good, later])  # tracking number and outcome, once each
    retried = services.queue.job_ids + services.queue.scheduled_job_registry.get_job_ids()
    assert any(j.startswith("finish-unreadable-") for j in retried)  # the bad item waits in a job that shows it


def test_a_wave_thread_outliving_its_job_is_not_sent_again_by_the_next_job(world, monkeypatch) -> None:
    services, twilio = world
    p = confirmed_payload(new_phone())
    push(services, p)
    batches.finish_confirmed()  # stored, tracking SMS sent, follow-up pushed
    monkeypatch.setitem(worker._CURRENT, "name", "kontor.here.1.beef")  # a `kontor worker`: one claimer, all threads
    real_send, calls = services.sms.send, []

    def send(to, body, local_id=""):
        calls.append(to)
        if len(calls) == 1:
            time.sleep(2.0)  # the gateway is slower than the interrupted job's grace for this one
        return real_send(to, body, local_id=local_id)

    monkeypatch.setattr(services.sms, "send", send)
    monkeypatch.setattr(batches, "WAVE_GRACE_SECONDS", 0.3)
    real_waiting, looks = services.confirmed.waiting, []

    def waiting():
        looks.append(1)
        if len(looks) == 3:
            raise JobTimeoutException("Task exceeded maximum timeout value (120 seconds)")  # the alarm, mid-wave
        return real_waiting()

    monkeypatch.setattr(services.confirmed, "waiting", waiting)
    with pytest.raises(JobTimeoutException):
        batches.process_followups()
    monkeypatch.setattr(services.confirmed, "waiting", real_waiting)
    batches.process_followups()  # the next follow-up job here takes the leftover batch first
    time.sleep(2.5)  # the first wave's thread ends its send
    assert len(twilio.to(p["mobile"])) == 2  # the tracking number and the outcome, once


def test_a_started_job_whose_execution_expired_does_not_stop_the_heartbeat(world) -> None:
    services, _ = world
    registry = StartedJobRegistry(queue=services.queue)
    services.redis.zadd(registry.key, {"job-x:exec-y": time.time() - 5})  # its execution hash expired first
    heart = worker.Heart(services.redis, "kontor.here.1.cafe", [services.queue])
    heart.start()
    time.sleep(1.0)
    assert heart.thread.is_alive() and services.redis.exists(worker.alive_key("kontor.here.1.cafe"))
    heart.stop()
