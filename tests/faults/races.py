"""Fault-suite helpers for issue 11: two deciders racing in-process on the stack's Redis, sandbox and database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from sqlalchemy import text

from sms_gateway import bootstrap, jobs, runtime
from sms_gateway.settings import load
from storage.db import upgrade
from tests.faults.procs import Ledger, Row, outcome_sms, tally
from tests.support.hook import confirmed_payload
from tests.support.stack import write_config


@contextmanager
def deciders(folder: Path, world_config: Path, database_url: str, twilio_url: str) -> Iterator[runtime.Services]:
    """Services in this process on the stack's Redis, sandbox and Twilio stand-in, with a queue nobody works
    (so the only deciders are the ones the test starts)."""
    world = yaml.safe_load(world_config.read_text(encoding="utf-8"))
    folder.mkdir()
    path = write_config(
        folder, world["redis"]["url"], database_url, twilio_url, 0, worker__queue=f"kontor-race-{uuid.uuid4().hex[:6]}"
    )
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["sandbox"]["port"] = world["sandbox"]["port"]
    config["outbound"]["per_sender_per_second"] = 1000
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    upgrade(database_url)
    services = bootstrap.install(runtime.build(load(path)))
    try:
        yield services
    finally:
        bootstrap.uninstall()
        services.engine.dispose()


def race(services: runtime.Services, group: list[str]) -> None:
    """Each request stored once, then two copies of its follow-up started at the same instant."""
    for mobile in group:
        body = confirmed_payload(mobile)
        dialog_id = str(body["dialog_id"])
        jobs.finish_request(body)
        barrier = threading.Barrier(2)

        def follow_up(d: str = dialog_id, b: threading.Barrier = barrier) -> None:
            b.wait(10)
            jobs.process_request(d)

        threads = [threading.Thread(target=follow_up) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)


def decided_row(label: str, ledger: Ledger, group: list[str]) -> Row:
    """The table row; a second outcome SMS or a second status change counts as a duplicate, none as lost."""
    row = tally(Row(label, len(group)), ledger, group, len(group))
    outcomes = outcome_sms(ledger.twilio, group)
    with ledger.engine.connect() as conn:  # type: ignore[attr-defined]  # the Ledger's engine is untyped
        changes = conn.execute(
            text(
                "SELECT r.mobile, count(*) FROM status_history h JOIN requests r ON r.id = h.request_id"
                " GROUP BY r.id, r.mobile"
            )
        ).all()
    doubled = sum(1 for mobile, n in changes if mobile in group and n > 2)
    row.duplicates += sum(max(0, n - 1) for n in outcomes.values()) + doubled
    row.lost += sum(1 for n in outcomes.values() if n == 0)
    row.note = f"outcome SMS {sum(outcomes.values())}/{len(group)}; status changes doubled: {doubled}"
    return row
