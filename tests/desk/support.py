"""Shared by the desk's tests: a flagged request in SQL, desk users, and a CSRF-aware Flask or HTTP client."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from sms_gateway.desk.users import add_user
from storage import repository
from storage.models import Request

PASSWORD = "correct-horse-battery"
WRAP = {"bill_id": "5678901204122", "national_id": "1234560003", "mobile": "+989131234567",
        "readings": {"mid": "00040"}, "wraps": ["mid"]}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def flagged_request(factory: sessionmaker[Session], now: datetime, tracking: str, **fields: Any) -> int:
    """A confirmed request the subscriber system sent to review (a wrapped meter), stored as the worker would."""
    payload = {**WRAP, "dialog_id": f"test-{uuid.uuid4().hex}", "reading_date": "2026-11-20",
               "confirmed_at": now.isoformat(), "description": "", "receipt_reference": "", "attachments": [],
               "language": "fa", **fields}
    with factory.begin() as db:
        row, _ = repository.store_request(db, payload, lambda: tracking, now)
        repository.set_status(db, row, "under_review", "meter_wrapped", now)
        db.flush()
        return row.id


def people(factory: sessionmaker[Session], now: datetime) -> None:
    with factory.begin() as db:
        for name, role in (("rita", "reviewer"), ("rob", "reviewer"), ("aud", "auditor"), ("ada", "admin")):
            add_user(db, name, role, PASSWORD, "test", now)


def token(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:500]
    return match.group(1)


def reading_day() -> date:
    return date(2026, 11, 20)


def status_of(factory: sessionmaker[Session], request_id: int) -> str:
    with factory() as db:
        row = db.get(Request, request_id)
        assert row is not None
        return row.status
