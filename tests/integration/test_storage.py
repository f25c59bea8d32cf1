"""Storage on a real SQL database: migrations, idempotent requests, privacy of lookups, the outbox."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime

import jdatetime
import pytest
from sqlalchemy import func, inspect, select

from dialogs.ids import parse_tracking_number
from dialogs.request import ConfirmedRequest
from sms_gateway.desk.queries import stat_records
from sms_gateway.jobs import new_tracking_number
from storage import repository
from storage.db import make_engine, read_factory, session_factory, upgrade
from storage.models import OutboundMessage, Request

NOW = datetime(2026, 11, 26, 9, 0)


def payload(dialog_id: str = "SM1", mobile: str = "+989121234567") -> ConfirmedRequest:
    return ConfirmedRequest.from_json(
        {
            "dialog_id": dialog_id,
            "bill_id": "1234567804121",
            "national_id": "0012345679",
            "mobile": mobile,
            "readings": {"mid": "04620"},
            "reading_date": "2026-11-26",
            "description": "کنتور حیاط",
            "receipt_reference": "123456",
            "attachments": [{"url": "http://x/1", "content_type": "image/jpeg"}],
            "language": "fa",
            "confirmed_at": "2026-11-26T12:30:00+03:30",
        }
    )


@pytest.fixture()
def db(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def test_migrations_create_every_table(database_url: str) -> None:
    upgrade(database_url)
    tables = set(inspect(make_engine(database_url)).get_table_names())
    assert {"requests", "status_history", "outbound_messages", "alembic_version"} <= tables


def test_a_request_is_stored_once_per_dialog(db) -> None:
    with db.begin() as s:
        first, created = repository.store_request(s, payload(), new_tracking_number, NOW)
        tracking = first.tracking_number
    with db.begin() as s:
        again, created_again = repository.store_request(s, payload(), new_tracking_number, NOW)
        assert (created, created_again) == (True, False)
        assert again.tracking_number == tracking
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Request)) == 1
        row = s.scalar(select(Request))
        assert row.readings == {"mid": "04620"} and row.description == "کنتور حیاط"
        assert row.attachments[0]["content_type"] == "image/jpeg"
        assert [h.status for h in row.history] == ["received"]
        assert repository.request_of(row) == payload()  # every field of the request comes back


def test_tracking_numbers_are_checked_and_not_sequential(db) -> None:
    numbers = []
    for i in range(20):
        with db.begin() as s:
            row, _ = repository.store_request(s, payload(f"SM{i}"), new_tracking_number, NOW)
            numbers.append(row.tracking_number)
    assert all(len(n) == 12 and parse_tracking_number(n) == n for n in numbers)
    gaps = {int(b) - int(a) for a, b in zip(numbers, numbers[1:], strict=False)}
    assert len(set(numbers)) == 20 and len(gaps) > 1


def test_a_tracking_collision_draws_again(db) -> None:
    with db.begin() as s:
        repository.store_request(s, payload("SM-a"), lambda: "516700544744", NOW)
    draws = iter(["516700544744", "123456789014"])
    with db.begin() as s:
        row, created = repository.store_request(s, payload("SM-b"), lambda: next(draws), NOW)
        assert created and row.tracking_number == "123456789014"


def test_a_stranger_finds_nothing(db) -> None:
    with db.begin() as s:
        row, _ = repository.store_request(s, payload(), new_tracking_number, NOW)
        tracking = row.tracking_number
    with db() as s:
        assert [r.tracking_number for r in repository.requests_of_phone(s, "+989121234567", tracking)] == [tracking]
        assert repository.requests_of_phone(s, "+989351234567", tracking) == []


def test_one_event_owes_one_message(db) -> None:
    with db.begin() as s:
        a = repository.owe_message(s, "tracking:SM1", "+989121234567", "hello", NOW)
        b = repository.owe_message(s, "tracking:SM1", "+989121234567", "hello again", NOW)
        assert a.id == b.id
    with db() as s:
        assert s.scalar(select(func.count()).select_from(OutboundMessage)) == 1
        assert [m.body for m in repository.messages_to(s, "+989121234567", 0)] == ["hello"]


def test_export_reads_in_batches(db) -> None:
    for i in range(7):
        with db.begin() as s:
            repository.store_request(s, payload(f"SM{i}"), new_tracking_number, NOW)
    with db() as s:
        assert [r.dialog_id for r in repository.all_requests(s, batch=3)] == [f"SM{i}" for i in range(7)]


def test_a_reading_session_does_not_wait_for_a_writer(database_url: str) -> None:
    """A status lookup or a desk page reads a snapshot (SQLite WAL, PostgreSQL MVCC) while the worker holds a write
    transaction open: it neither waits for the write lock nor sees the uncommitted row."""
    upgrade(database_url)
    engine = make_engine(database_url)
    writer, reader = session_factory(engine), read_factory(engine)
    seen: list[int] = []
    try:
        with writer.begin() as db:
            repository.store_request(db, payload("SM-held"), new_tracking_number, NOW)
            db.flush()  # the write lock is held from here to the end of the block

            def read() -> None:
                with reader() as r:
                    seen.append(r.scalar(select(func.count()).select_from(Request)) or 0)

            looker = threading.Thread(target=read)
            looker.start()
            looker.join(10)  # the busy timeout is 30 s: a reader queued for the lock would still be waiting
            assert not looker.is_alive() and seen == [0]
        with reader() as r:
            assert r.scalar(select(func.count()).select_from(Request)) == 1
    finally:
        engine.dispose()


def test_statistics_read_only_the_days_asked_for_cut_at_tehran_midnight(db) -> None:
    def at(dialog: str, moment: str) -> ConfirmedRequest:
        return dataclasses.replace(payload(dialog), confirmed_at=datetime.fromisoformat(moment))

    with db.begin() as s:  # 1405/09/06 begins at 2026-11-26 20:30 UTC (Tehran is UTC+3:30)
        for dialog, moment in (("SM-a", "2026-11-26T20:29:00+00:00"), ("SM-b", "2026-11-26T20:31:00+00:00")):
            repository.store_request(s, at(dialog, moment), new_tracking_number, NOW)
    day = jdatetime.date(1405, 9, 6)
    with db() as s:
        assert [r.jalali for r in stat_records(s, day, day)] == [day]  # 20:29 UTC is still the day before
        assert len(stat_records(s, day - jdatetime.timedelta(days=1), day)) == 2 and len(stat_records(s)) == 2
