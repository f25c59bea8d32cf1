"""What the desk reads from SQL: the queue, a request with its history and SMS, search, statistics, the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time

import jdatetime
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dialogs.text import latin_digits
from sms_gateway.desk.stats import FINAL, TEHRAN, Record
from storage.models import OutboundMessage, Request, StatusChange
from storage.staff import AuditEntry, DeskDecision

QUEUE_LIMIT = 200


@dataclass(frozen=True)
class QueueFilter:
    """The queue's filters: a status ("" = any), a company code (3 digits of the bill ID), a Jalali date range."""

    status: str = "under_review"
    company: str = ""
    start: jdatetime.date | None = None
    end: jdatetime.date | None = None


def utc_midnight(day: jdatetime.date) -> datetime:
    """Tehran's midnight of a Jalali day, as the naive UTC the tables store."""
    local = datetime.combine(day.togregorian(), time(), tzinfo=TEHRAN)
    return local.astimezone(UTC).replace(tzinfo=None)


def queue(db: Session, wanted: QueueFilter) -> list[Request]:
    """Oldest first: the request that has waited longest is the next one to look at."""
    query = select(Request)
    if wanted.status:
        query = query.where(Request.status == wanted.status)
    if wanted.company:
        query = query.where(func.substr(Request.bill_id, func.length(Request.bill_id) - 4, 3) == wanted.company)
    if wanted.start is not None:
        query = query.where(Request.confirmed_at >= utc_midnight(wanted.start))
    if wanted.end is not None:
        query = query.where(Request.confirmed_at < utc_midnight(wanted.end + jdatetime.timedelta(days=1)))
    return list(db.scalars(query.order_by(Request.confirmed_at, Request.id).limit(QUEUE_LIMIT)))


def mobile_forms(digits: str) -> list[str]:
    """A typed mobile as stored (+989...), whether written 09..., 989... or 9..."""
    core = re.sub(r"^(\+?98|0)", "", digits)
    return [f"+98{core}"] if re.fullmatch(r"9[0-9]{9}", core) else []


def search(db: Session, text: str) -> list[Request]:
    """By tracking number, bill ID, national ID or mobile: whatever the digits match."""
    digits = re.sub(r"[^0-9+]", "", latin_digits(text))
    if len(digits.lstrip("+")) < 6:
        return []
    bare = digits.lstrip("+")
    conditions = [
        Request.tracking_number == bare,
        Request.bill_id == bare.lstrip("0"),
        Request.national_id == bare,
        Request.national_id == bare.zfill(10),
    ]
    conditions += [Request.mobile == m for m in mobile_forms(digits)]
    query = select(Request).where(or_(*conditions)).order_by(Request.id.desc()).limit(QUEUE_LIMIT)
    return list(db.scalars(query))


def messages_about(db: Session, dialog_id: str) -> list[OutboundMessage]:
    """Every SMS owed about a request: its event keys all end in its dialog id."""
    keys = [f"{kind}:{dialog_id}" for kind in ("tracking", "outcome", "decision")]
    return list(
        db.scalars(select(OutboundMessage).where(OutboundMessage.event_key.in_(keys)).order_by(OutboundMessage.id))
    )


def history_of(db: Session, request_id: int) -> list[StatusChange]:
    return list(db.scalars(select(StatusChange).where(StatusChange.request_id == request_id).order_by(StatusChange.id)))


def decision_of(db: Session, request_id: int) -> DeskDecision | None:
    return db.scalar(select(DeskDecision).where(DeskDecision.request_id == request_id))


def stat_records(db: Session, start: jdatetime.date | None = None, end: jdatetime.date | None = None) -> list[Record]:
    """The requests confirmed on Tehran days [start, end] (every one, without bounds), each with the time of its
    final status change (the end of the service): a year's page reads that year, not every request ever."""
    final = (
        select(StatusChange.request_id, func.max(StatusChange.at).label("at"))
        .where(StatusChange.status.in_(FINAL))
        .group_by(StatusChange.request_id)
        .subquery()
    )
    query = (
        select(Request.confirmed_at, Request.channel, Request.status, final.c.at)
        .outerjoin(final, final.c.request_id == Request.id)
        .order_by(Request.id)
    )
    if start is not None:
        query = query.where(Request.confirmed_at >= utc_midnight(start))
    if end is not None:
        query = query.where(Request.confirmed_at < utc_midnight(end + jdatetime.timedelta(days=1)))
    return [Record(confirmed, channel, status, at) for confirmed, channel, status, at in db.execute(query)]


def audit_log(db: Session, limit: int = 500) -> list[AuditEntry]:
    """The newest lines first."""
    return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
