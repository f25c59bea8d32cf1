"""Issue 5: each dialog step costs at most 3 Redis round trips (lock+load with the limits, save+unlock,
and on confirm the job rides in the save's round trip). Counted by the server: reads processed."""

from __future__ import annotations

from pathlib import Path

import redis

from tests.support.hook import flush, running_hook, settings_for

STEPS = ["قرائت", "1234567804121", "0012345679", "04620", "0", "0", "0", "1"]


def reads(client: redis.Redis) -> int:
    return int(client.info("stats")["total_reads_processed"])


def test_every_step_costs_at_most_three_round_trips(redis_server: str, tmp_path: Path) -> None:
    flush(redis_server)
    counter = redis.Redis.from_url(redis_server)
    with running_hook(settings_for(tmp_path, redis_server)) as hook:
        hook.sms("+989121234567", "warm-up")  # scripts loaded, connections open
        costs = []
        for body in STEPS:
            before = reads(counter)
            replies = hook.sms("+989121234567", body)
            costs.append(reads(counter) - before - 1)  # less the INFO that read the counter
            assert replies
    counter.close()
    assert max(costs) <= 3, costs
    assert costs[:-1] == [2] * (len(STEPS) - 1), costs  # lock+load, save+unlock
    assert hook.services.queue.count == 1  # and the confirm's job really went in
