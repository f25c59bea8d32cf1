"""The service card's figures (pure): requests per Jalali month, season or year, by channel and outcome, and the
service time (confirm to the final status), its average and 90th percentile. The desk page and `kontor stats`
both call summarise(), so they cannot disagree."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import jdatetime

TEHRAN = ZoneInfo("Asia/Tehran")
BY = ("month", "season", "year")
FINAL = ("bill_issued", "rejected", "read_again")  # a request in one of these has been served
OUTCOMES = FINAL + ("under_review", "received")
SEASONS = {"fa": ("بهار", "تابستان", "پاییز", "زمستان"), "en": ("spring", "summer", "autumn", "winter")}


@dataclass(frozen=True)
class Record:
    """One request as the statistics see it (timestamps naive UTC, as stored)."""

    confirmed_at: datetime
    channel: str
    status: str
    final_at: datetime | None = None

    @property
    def jalali(self) -> jdatetime.date:
        """The Tehran calendar day of the confirm: the day the subscriber would name."""
        local = self.confirmed_at.replace(tzinfo=UTC).astimezone(TEHRAN).date()
        return jdatetime.date.fromgregorian(date=local)

    @property
    def service_hours(self) -> float | None:
        if self.status not in FINAL or self.final_at is None:
            return None
        return max(0.0, (self.final_at - self.confirmed_at).total_seconds() / 3600)


@dataclass
class Row:
    """The figures of one period (or of all of them: period None)."""

    period: tuple[int, int] | None
    total: int = 0
    channels: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    hours: list[float] = field(default_factory=list)
    hours_by_outcome: dict[str, list[float]] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        self.total += 1
        self.channels[record.channel] = self.channels.get(record.channel, 0) + 1
        self.outcomes[record.status] = self.outcomes.get(record.status, 0) + 1
        hours = record.service_hours
        if hours is not None:
            self.hours.append(hours)
            self.hours_by_outcome.setdefault(record.status, []).append(hours)


@dataclass(frozen=True)
class Report:
    by: str
    rows: list[Row]
    overall: Row
    channels: list[str]


def period_of(day: jdatetime.date, by: str) -> tuple[int, int]:
    """(year, month 1..12 | season 1..4 | 0): Farvardin..Khordad is spring (بهار), Dey..Esfand winter."""
    if by == "month":
        return day.year, day.month
    if by == "season":
        return day.year, (day.month - 1) // 3 + 1
    if by == "year":
        return day.year, 0
    raise ValueError(f"by must be one of {BY}")


def label(period: tuple[int, int] | None, by: str, lang: str) -> str:
    """1405/01, 1405 بهار (1405 spring), 1405; the overall row is 'all'."""
    if period is None:
        return "همه" if lang == "fa" else "all"
    year, part = period
    if by == "month":
        return f"{year:04d}/{part:02d}"
    if by == "season":
        return f"{year} {SEASONS[lang][part - 1]}"
    return str(year)


def parse_jalali(text: str) -> jdatetime.date:
    """1405/01/01 (or 1405-01-01); ValueError when the day does not exist (1404/12/30 does not, 1403/12/30 does)."""
    year, month, day = (int(p) for p in text.replace("-", "/").split("/"))
    return jdatetime.date(year, month, day)


def p90(values: Sequence[float]) -> float | None:
    """The nearest-rank 90th percentile: the smallest value at or above 90% of the values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(
    records: Iterable[Record], by: str, start: jdatetime.date | None = None, end: jdatetime.date | None = None
) -> Report:
    """Group the records whose confirm day is within [start, end] by period, oldest period first."""
    rows: dict[tuple[int, int], Row] = {}
    overall, channels = Row(None), set()
    for record in records:
        day = record.jalali
        if (start is not None and day < start) or (end is not None and day > end):
            continue
        key = period_of(day, by)
        rows.setdefault(key, Row(key)).add(record)
        overall.add(record)
        channels.add(record.channel)
    return Report(by, [rows[k] for k in sorted(rows)], overall, sorted(channels))


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def header(report: Report) -> list[str]:
    """The columns of the table and of the CSV, in one order."""
    return (
        ["period", "requests"]
        + [f"channel_{c}" for c in report.channels]
        + list(OUTCOMES)
        + ["avg_hours", "p90_hours"]
        + [f"{o}_{s}_hours" for o in FINAL for s in ("avg", "p90")]
    )


def table(report: Report, lang: str = "en") -> list[list[str]]:
    """Every row (then the overall one) as strings, in header() order: what the CSV, the CLI and the page show."""
    out = []
    for row in report.rows + [report.overall]:
        cells = [label(row.period, report.by, lang), str(row.total)]
        cells += [str(row.channels.get(c, 0)) for c in report.channels]
        cells += [str(row.outcomes.get(o, 0)) for o in OUTCOMES]
        cells += [_hours(mean(row.hours)), _hours(p90(row.hours))]
        for outcome in FINAL:
            values = row.hours_by_outcome.get(outcome, [])
            cells += [_hours(mean(values)), _hours(p90(values))]
        out.append(cells)
    return out
