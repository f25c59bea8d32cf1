"""Issue 11: with Sentinel, a confirm is announced only once a replica holds its request (WAIT 1 in the save's round
trip), still 2 round trips per step; without the replica's acknowledgement the subscriber is asked to send again,
the dialog stays at the confirm step, and the repeated `1` pushes the same request (stored once)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sms_gateway.procs import wait_until
from sms_gateway.runtime import catalogue
from tests.support.hook import running_hook, settings_for
from tests.support.redis_ha import SentinelCluster

PHONE, OTHER = "+989121234567", "+989351234567"
STEPS = ["قرائت", "1234567804121", "0012345679", "04620", "0", "0", "0", "1"]
CAT = catalogue()
INBOX = "kontor:{confirmed}:inbox"  # sms_gateway/inbox.py


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    ha = SentinelCluster(tmp_path / "redis").start()
    yield ha
    ha.stop()


def test_a_confirm_waits_for_the_replica_in_the_same_round_trip(
    cluster: SentinelCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted by the client (each round trip is one write of packed commands): the server's read counter also
    # counts the Sentinels' and the replica's own traffic.
    sent = [0]
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self: redis.connection.AbstractConnection, command: object, check_health: bool = True) -> None:
        if self.port == cluster.primary.port:
            sent[0] += 1
        send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    settings = settings_for(tmp_path, "", redis__sentinel=cluster.sentinel_block())
    with running_hook(settings) as hook:
        assert hook.services.sessions.wait_ms > 0
        hook.converse(OTHER, STEPS)  # warm-up: scripts loaded, RQ's server version read, connections open
        costs = []
        for body in STEPS:
            before = sent[0]
            replies = hook.sms(PHONE, body)
            costs.append(sent[0] - before)
        assert replies == [CAT.text("confirmed", "fa")]
        assert costs == [2] * len(STEPS), costs  # lock+load, save+unlock (+ the jobs and WAIT on confirm)
        jobs = set(hook.services.queue.job_ids)
        waiting = hook.services.redis.lrange(INBOX, 0, -1)  # the warm-up's first save may have met NOSCRIPT: twice
    assert len(jobs) == 1  # one batch job for both requests: the second push found it waiting
    assert {json.loads(r)["mobile"] for r in waiting} == {OTHER, PHONE}
    replica = cluster.replica.client()
    assert replica.lrange(INBOX, 0, -1) == waiting  # both requests reached the replica before the confirm replied
    assert {j.decode() for j in replica.lrange("rq:queue:" + settings.worker.queue, 0, -1)} == jobs


def test_without_a_replica_the_confirm_is_not_announced(cluster: SentinelCluster, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "", redis__sentinel=cluster.sentinel_block())
    with running_hook(settings) as hook:
        hook.converse(PHONE, STEPS[:-1])
        at_confirm = hook.services.sessions.peek(PHONE).dialog
        assert at_confirm is not None and at_confirm.step == "confirm"
        cluster.replica.kill()  # the one replica is gone: nothing can acknowledge
        assert hook.sms(PHONE, "1") == [CAT.text("try_again_later", "fa")]
        assert hook.services.sessions.peek(PHONE).dialog == at_confirm  # put back: the next `1` confirms again
        job = set(hook.services.queue.job_ids)
        assert len(job) == 1  # the request went in all the same: stored once, idempotent by dialog id
        assert {json.loads(r)["mobile"] for r in hook.services.redis.lrange(INBOX, 0, -1)} == {PHONE}  # NOSCRIPT: 2
        assert hook.sms(PHONE, "1") == [CAT.text("try_again_later", "fa")]  # again: the same dialog, the same job
        assert set(hook.services.queue.job_ids) == job
        assert hook.services.sessions.peek(PHONE).dialog == at_confirm


def test_min_replicas_to_write_refuses_every_step(cluster: SentinelCluster, tmp_path: Path) -> None:
    """The second line of defence: a primary without a replica refuses writes; every step gets the try-again."""
    settings = settings_for(tmp_path, "", redis__sentinel=cluster.sentinel_block())
    with running_hook(settings) as hook:
        assert hook.sms(OTHER, "READ") != [CAT.text("try_again_later", "en")]
        cluster.primary.client().config_set("min-replicas-to-write", 1)
        cluster.primary.client().config_set("min-replicas-max-lag", 1)
        cluster.replica.kill()
        assert wait_until(lambda: cluster.primary.client().info("replication")["connected_slaves"] == 0, 20, 0.2)
        assert wait_until(lambda: hook.sms(PHONE, "READ") == [CAT.text("try_again_later", "en")], 10, 0.5)
