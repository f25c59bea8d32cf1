"""Redis fail-over under Sentinel, on real processes: a primary, its replica and three Sentinels on loopback, then
`kontor sandbox`, `kontor web` and `kontor worker` configured with `redis.sentinel`. The primary is SIGKILLed with a
dialog in progress and requests queued: the Sentinels promote the replica, every webhook still answers 200 (the
try-again reply while there is no primary, or while no replica can acknowledge a confirm), the dialog goes on, and
every confirmed request is stored once and gets one tracking SMS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue

from sms_gateway import redis_client, scheduling
from sms_gateway.procs import wait_until
from sms_gateway.runtime import catalogue
from sms_gateway.webhook_client import Sms, new_message_id
from tests.faults.procs import Ledger, Row, SlowTwilio, tally
from tests.faults.test_faults import ROWS, SINGLE, phones, record, table
from tests.support.hook import settings_for
from tests.support.redis_ha import SentinelCluster
from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN, ROOT, Stack, free_port, write_config

pytestmark = pytest.mark.faults
CAT = catalogue()
TRY_AGAIN = {CAT.text("try_again_later", lang) for lang in ("fa", "en")}
CONFIRMED = CAT.text("confirmed", "en")
STEPS = ["READ", *SINGLE, "1"]
FAULT = "Sentinel fail-over: primary SIGKILL"


@pytest.fixture()
def ha(tmp_path: Path) -> Iterator[tuple[Stack, SentinelCluster, SlowTwilio, Ledger]]:
    """The Sentinel cluster and Kontor on it; every process stopped at the end, whatever happened."""
    cluster = SentinelCluster(tmp_path / "redis").start()
    twilio = SlowTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    database, port = f"sqlite:///{tmp_path / 'kontor.db'}", free_port()
    sentinel = cluster.sentinel_block()  # a retry lost in the fail-over is swept well within the 60 s wait below
    config = write_config(
        tmp_path, "", database, twilio.url, port, redis__sentinel=sentinel, worker__stranded_after_seconds=10
    )
    stack = Stack(config, port, AUTH_TOKEN)
    try:
        stack.start()
        yield stack, cluster, twilio, Ledger(database, twilio)
    finally:
        if stack.procs:
            stack.stop()
        twilio.stop()
        cluster.stop()


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    """The fault table again, with this file's row, printed and kept in var/faults.txt like test_faults' own."""
    yield
    if any(row.fault == FAULT for row in ROWS):
        text = "\n" + table(ROWS) + "\n"
        capman = request.config.pluginmanager.getplugin("capturemanager")
        with capman.global_and_fixture_disabled():
            print(text, flush=True)
        (ROOT / "var").mkdir(exist_ok=True)
        (ROOT / "var" / "faults.txt").write_text(text, encoding="utf-8")


class Subscriber:
    """A phone that answers a try-again reply as a person would: the same text again, a moment later (bounded)."""

    def __init__(self, stack: Stack, phone: str, deadline: float) -> None:
        self.stack, self.phone, self.deadline = stack, phone, deadline
        self.statuses: list[int] = []
        self.try_again = 0

    def say(self, body: str) -> list[str]:
        while True:
            try:
                response = self.stack.post(self.stack.channel.form(Sms(self.phone, body, new_message_id())))
            except OSError:  # the web itself unreachable: never expected, counted as a failure
                self.statuses.append(0)
                raise
            self.statuses.append(response.status_code)
            replies = self.stack.channel.replies(response.content) if response.status_code == 200 else []
            if response.status_code == 200 and not set(replies) & TRY_AGAIN:
                return replies
            self.try_again += 1
            if response.status_code != 200 or time.monotonic() > self.deadline:
                raise AssertionError(f"{self.phone}: {response.status_code} {replies} for {body!r}")
            time.sleep(0.3)

    def converse(self, bodies: list[str]) -> bool:
        """The bodies in order; True when the last one (the `1`) was answered "registered"."""
        replies: list[str] = []
        for body in bodies:
            replies = self.say(body)
        return replies == [CONFIRMED]


def test_sentinel_failover(ha) -> None:
    stack, cluster, twilio, ledger = ha
    queued, walking, after = phones(3), phones(1), phones(2)
    everyone = queued + walking + after
    deadline = time.monotonic() + 120
    people = {p: Subscriber(stack, p, deadline) for p in everyone}
    twilio.delay = 0.7  # the worker is still sending when the primary dies: requests wait in the queue
    confirmed = sum(people[p].converse(STEPS) for p in queued)
    assert confirmed == len(queued), "every confirm before the fault is acknowledged by the replica"
    people[walking[0]].converse(STEPS[:4])  # a dialog in progress

    twilio.fail_next = [503, 503]  # after the fault the next sends fail: their retries need the scheduler
    killed = time.monotonic()
    cluster.primary.kill()
    results: dict[str, bool] = {}
    talk = [
        threading.Thread(target=lambda p=p, rest=rest: results.__setitem__(p, people[p].converse(rest)))
        for p, rest in [(walking[0], STEPS[4:])] + [(p, STEPS) for p in after]
    ]
    for thread in talk:
        thread.start()
    assert cluster.wait_promoted(30), "the Sentinels did not promote the replica"
    switch = time.monotonic() - killed
    cluster.restart_old_primary()  # back as a replica of the new primary: confirms are acknowledged again
    assert wait_until(cluster.replica_attached, 60, 0.2), "the old primary did not come back as a replica"
    for thread in talk:
        thread.join(max(1.0, deadline - time.monotonic()))
    twilio.delay = 0.0
    restarted = stack.procs["worker"].poll() is not None
    if restarted:  # RQ quits on a Redis error mid-job; its supervisor (systemd) starts it again
        stack.runner.kontor("worker", stack.config, "--no-migrate")
    confirmed += sum(results.values())
    assert confirmed == len(everyone), results
    statuses = [s for person in people.values() for s in person.statuses]
    wait_until(
        lambda: len(ledger.tracking_sms(everyone)) >= confirmed and len(ledger.stored(everyone)) >= confirmed, 60, 0.3
    )
    time.sleep(2)  # a duplicate would show up by now
    row = tally(
        Row(
            FAULT,
            len(everyone),
            note=f"promoted in {switch:.1f}s; {sum(p.try_again for p in people.values())} try-again replies, "
            f"{sum(s != 200 for s in statuses)} non-200" + ("; worker restarted" if restarted else ""),
        ),
        ledger,
        everyone,
        confirmed,
    )
    assert set(statuses) == {200}, statuses
    assert not twilio.fail_next, "the failing sends happened and were retried"
    record(row)


def retried(call: Callable[[], str], timeout: float = 10) -> str:
    """The first answer of a call made again while the client finds the new primary (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_scheduler_carries_on_through_a_failover(tmp_path: Path) -> None:
    """Retries wait in RQ's scheduled registry; RQ's own scheduler process ends at the first Redis error."""
    cluster = SentinelCluster(tmp_path / "redis").start()
    scheduler = None
    try:
        settings = settings_for(tmp_path, "", redis__sentinel=cluster.sentinel_block())
        queue = Queue("scheduled", connection=redis_client.connect(settings))
        scheduler = scheduling.Scheduler([queue], connection=queue.connection, settings=settings, interval=1)
        scheduler.acquire_locks()
        assert scheduler.acquired_locks
        scheduler.start()  # its own process, as `kontor worker` starts it
        time.sleep(1.5)  # a few rounds on the first primary
        cluster.primary.kill()
        assert cluster.wait_promoted(30)
        job = retried(lambda: queue.enqueue_in(timedelta(seconds=1), "builtins.len", "x").id)
        assert wait_until(lambda: job in queue.get_job_ids(), 20, 0.2), "the scheduler did not move the job"
        assert scheduler._process is not None and scheduler._process.is_alive()
    finally:
        if scheduler is not None and scheduler._process is not None:
            scheduler._process.terminate()
            scheduler._process.join(10)
        cluster.stop()
