"""Shared by the desk's tests: a flagged request in SQL, desk users, and a CSRF-aware Flask or HTTP client."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from adapters.clock import SYSTEM
from dialogs.request import ConfirmedRequest
from sms_gateway.desk.users import add_user
from storage import repository
from storage.models import Request

PASSWORD = "correct-horse-battery"
WRAP = {
    "bill_id": "5678901204122",
    "national_id": "1234560003",
    "mobile": "+989131234567",
    "readings": {"mid": "00040"},
    "wraps": ["mid"],
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def flagged_request(factory: sessionmaker[Session], now: datetime, tracking: str, **fields: Any) -> int:
    """A confirmed request the subscriber system sent to review (a wrapped meter), stored as the worker would."""
    payload = {
        **WRAP,
        "dialog_id": f"test-{uuid.uuid4().hex}",
        "reading_date": reading_day().isoformat(),
        "confirmed_at": now.isoformat(),
        "description": "",
        "receipt_reference": "",
        "attachments": [],
        "language": "fa",
        **{k: v for k, v in fields.items() if k != "attachments"},
    }
    with factory.begin() as db:
        row, _ = repository.store_request(db, ConfirmedRequest.from_json(payload), lambda: tracking, now)
        if "attachments" in fields:  # as the follow-up job leaves them: each kept (or not) with its status
            row.attachments = fields["attachments"]
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
    """Six days ago: after the sandbox's last reading (30 days ago), whatever day the tests run."""
    return SYSTEM.tehran_today() - timedelta(days=6)


def status_of(factory: sessionmaker[Session], request_id: int) -> str:
    with factory() as db:
        row = db.get(Request, request_id)
        assert row is not None
        return row.status
