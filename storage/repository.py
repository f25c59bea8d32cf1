"""The SQL side as a few verbs: store a request once, find a phone's requests, keep and deliver outbound SMS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialogs.request import ConfirmedRequest, field_names
from storage.models import OutboundMessage, Request, StatusChange

# Every field of the confirmed request is a column of `requests` (a test holds the two together).
STORED = field_names()


def store_request(
    db: Session, request: ConfirmedRequest, tracking: Callable[[], str], now: datetime
) -> tuple[Request, bool]:
    """Insert the confirmed request once: the unique dialog_id, not a prior read, makes a retried job harmless."""
    for _ in range(5):
        row = _new_row(request, tracking(), now)
        try:
            with db.begin_nested():  # a savepoint: a unique clash undoes this insert, not the caller's work
                db.add(row)
            return row, True
        except IntegrityError:
            existing = db.scalar(select(Request).where(Request.dialog_id == request.dialog_id))
            if existing is not None:
                return existing, False
    raise RuntimeError("could not allocate a unique tracking number")


def store_requests(
    db: Session, requests: list[ConfirmedRequest], tracking: Callable[[], str], now: datetime
) -> list[tuple[Request, bool]]:
    """A batch at once: those stored already are read in one query, the others inserted in one flush. A clash
    (the same dialog stored by another worker at that moment, a tracking number drawn twice) raises IntegrityError
    and the caller's transaction is rolled back: then it stores them again one by one, through store_request."""
    ids = [r.dialog_id for r in requests]
    stored = {row.dialog_id: row for row in db.scalars(select(Request).where(Request.dialog_id.in_(ids)))}
    out = [
        (stored[r.dialog_id], False) if r.dialog_id in stored else (_new_row(r, tracking(), now), True)
        for r in requests
    ]
    db.add_all([row for row, created in out if created])
    db.flush()
    return out


def _new_row(request: ConfirmedRequest, tracking_number: str, now: datetime) -> Request:
    row = Request(
        tracking_number=tracking_number,
        status="received",
        status_reason="",
        created_at=now,
        updated_at=now,
        **_columns(request),
    )
    row.history.append(StatusChange(status="received", reason="", at=now))
    return row


def _columns(request: ConfirmedRequest) -> dict[str, Any]:
    """The request as column values: JSON columns take its JSON form, the date and time their own types."""
    values = {name: value for name, value in request.to_json().items() if name in STORED}
    values["reading_date"], values["confirmed_at"] = request.reading_date, _utc(request.confirmed_at)
    return values


def request_of(row: Request) -> ConfirmedRequest:
    """The confirmed request a row holds (its confirmation time in UTC)."""
    values = {name: getattr(row, name) for name in STORED}
    values["confirmed_at"] = row.confirmed_at.replace(tzinfo=UTC)
    return ConfirmedRequest.from_json(values)


def _utc(moment: datetime) -> datetime:
    """Naive UTC, like every other timestamp in the tables (the dialog's clock is Tehran's)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def change_status(
    db: Session, request_id: int, expected: str, status: str, reason: str, now: datetime, **values: Any
) -> bool:
    """The one owner of a request's status change: a compare-and-set (`UPDATE … WHERE id AND status`), so of two
    deciders only the one whose UPDATE changed the row goes on; its history row is written with it, once.

    PostgreSQL re-checks the WHERE after a concurrent writer commits; SQLite serialises writers (storage.db)."""
    changed = db.execute(
        update(Request)
        .where(Request.id == request_id, Request.status == expected)
        .values(status=status, status_reason=reason, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:  # a CursorResult: the other decider won
        return False
    db.add(StatusChange(request_id=request_id, status=status, reason=reason, at=now))
    db.flush()
    db.get(Request, request_id, populate_existing=True)  # a loaded copy shows the status that won, not a stale one
    return True


def set_status(db: Session, request: Request, status: str, reason: str, now: datetime) -> bool:
    """Move a loaded row on from the status it was read with, through the same compare-and-set."""
    db.flush()
    return change_status(db, request.id, request.status, status, reason, now)


def requests_of_phone(db: Session, mobile: str, tracking: str | None, limit: int = 3) -> list[Request]:
    """The phone's own requests: a tracking number of someone else's request finds nothing."""
    query = select(Request).where(Request.mobile == mobile)
    if tracking:
        query = query.where(Request.tracking_number == tracking)
    return list(db.scalars(query.order_by(Request.id.desc()).limit(limit)))


def all_requests(db: Session, batch: int = 500) -> Iterator[Request]:
    """Every stored request in order, read in batches so an export of millions does not fill memory."""
    last = 0
    while True:
        rows = list(db.scalars(select(Request).where(Request.id > last).order_by(Request.id).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].id


def owe_message(db: Session, event_key: str, to: str, body: str, now: datetime) -> OutboundMessage:
    """Record an SMS we owe, once per event: a second call for the same event returns the first row."""
    return owe_messages(db, [(event_key, to, body)], now)[0]


def owe_messages(db: Session, owed: list[tuple[str, str, str]], now: datetime) -> list[OutboundMessage]:
    """Record the SMS we owe, (event key, to, body) each, once per event: an event owed already keeps its row."""
    keys = [key for key, _to, _body in owed]
    rows = {m.event_key: m for m in db.scalars(select(OutboundMessage).where(OutboundMessage.event_key.in_(keys)))}
    new = []
    for key, to, body in owed:
        if key not in rows:
            rows[key] = OutboundMessage(event_key=key, to=to, body=body, status="pending", created_at=now)
            new.append(rows[key])
    db.add_all(new)
    db.flush()
    return [rows[key] for key in keys]


def messages_to(db: Session, to: str, after_id: int) -> list[OutboundMessage]:
    query = select(OutboundMessage).where(OutboundMessage.to == to, OutboundMessage.id > after_id)
    return list(db.scalars(query.order_by(OutboundMessage.id)))
