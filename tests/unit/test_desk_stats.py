"""The service card's statistics (pure): Jalali months, seasons and years, Tehran's day, leap Esfand, percentiles."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import jdatetime
import pytest

from sms_gateway.desk import stats
from sms_gateway.desk.roles import ROLES, allowed, check_role
from sms_gateway.desk.stats import Record, label, p90, parse_jalali, period_of, summarise


def utc_of(jalali: str, hour: int = 10) -> datetime:
    """Naive UTC of a Jalali day at hour:00 Tehran time (+03:30, no summer time since 1402)."""
    return datetime.combine(parse_jalali(jalali).togregorian(), datetime.min.time()) + timedelta(hours=hour - 3.5)


def test_1403_is_leap_and_1404_is_not() -> None:
    assert jdatetime.date(1403, 12, 30).togregorian() == date(2025, 3, 20)
    assert parse_jalali("1403/12/30") == jdatetime.date(1403, 12, 30)
    with pytest.raises(ValueError):
        parse_jalali("1404/12/30")


def test_periods_and_jalali_seasons() -> None:
    day = jdatetime.date(1403, 12, 30)
    assert period_of(day, "month") == (1403, 12) and period_of(day, "season") == (1403, 4)
    assert period_of(day, "year") == (1403, 0)
    seasons = [period_of(jdatetime.date(1405, m, 1), "season")[1] for m in range(1, 13)]
    assert seasons == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert label((1405, 1), "season", "fa") == "1405 بهار" and label((1403, 4), "season", "en") == "1403 winter"
    assert label((1405, 7), "month", "fa") == "1405/07" and label(None, "year", "en") == "all"


def test_the_day_is_tehrans_not_utcs() -> None:
    late_esfand = Record(datetime(2025, 3, 20, 20, 29), "sms", "received")  # 23:59 in Tehran
    nowruz = Record(datetime(2025, 3, 20, 20, 31), "sms", "received")  # 00:01 on 1404/01/01
    assert late_esfand.jalali == jdatetime.date(1403, 12, 30) and nowruz.jalali == jdatetime.date(1404, 1, 1)


def test_nearest_rank_90th_percentile() -> None:
    assert p90([]) is None and p90([5.0]) == 5.0
    assert p90([float(v) for v in range(1, 11)]) == 9.0 and p90([float(v) for v in range(1, 12)]) == 10.0


DATA = [  # (confirmed Jalali day, status, hours to the final status)
    ("1403/12/30", "bill_issued", 1),
    ("1403/12/30", "rejected", 30),
    ("1403/12/01", "under_review", None),
    ("1404/01/01", "bill_issued", 2),
    ("1404/02/15", "read_again", 10),
    ("1404/04/01", "bill_issued", 4),
    ("1404/07/10", "rejected", 50),
    ("1404/10/05", "bill_issued", 3),
]


def records() -> list[Record]:
    out = []
    for day, status, hours in DATA:
        confirmed = utc_of(day)
        out.append(Record(confirmed, "sms", status, None if hours is None else confirmed + timedelta(hours=hours)))
    return out


def test_by_season_across_years_with_service_times() -> None:
    report = summarise(records(), "season")
    assert [(r.period, r.total) for r in report.rows] == [
        ((1403, 4), 3),
        ((1404, 1), 2),
        ((1404, 2), 1),
        ((1404, 3), 1),
        ((1404, 4), 1),
    ]
    winter = report.rows[0]
    assert winter.outcomes == {"bill_issued": 1, "rejected": 1, "under_review": 1}
    assert stats.mean(winter.hours) == 15.5 and p90(winter.hours) == 30
    assert report.overall.total == 8 and sorted(report.overall.hours) == [1, 2, 3, 4, 10, 30, 50]
    assert p90(report.overall.hours_by_outcome["bill_issued"]) == 4


def test_by_month_and_year_and_the_date_range() -> None:
    months = summarise(records(), "month", parse_jalali("1403/12/30"), parse_jalali("1404/01/31"))
    assert [(label(r.period, "month", "en"), r.total) for r in months.rows] == [("1403/12", 2), ("1404/01", 1)]
    years = summarise(records(), "year")
    assert [(r.period, r.total) for r in years.rows] == [((1403, 0), 3), ((1404, 0), 5)]


def test_the_table_has_one_cell_per_header_column() -> None:
    report = summarise(records(), "season")
    rows = stats.table(report, "fa")
    assert all(len(row) == len(stats.header(report)) for row in rows)
    assert rows[0][:2] == ["1403 زمستان", "3"] and rows[-1][:2] == ["همه", "8"]
    assert rows[-1][stats.header(report).index("avg_hours")] == f"{(1 + 30 + 2 + 10 + 4 + 50 + 3) / 7:.1f}"


def test_roles() -> None:
    assert allowed("reviewer", "decide") and allowed("reviewer", "reveal") and not allowed("auditor", "decide")
    assert not allowed("admin", "decide") and allowed("admin", "manage_users") and allowed("auditor", "audit")
    assert not allowed("reviewer", "audit") and not allowed("reviewer", "manage_users")
    assert all(allowed(role, "read") for role in ROLES) and not allowed("admin", "no_such_permission")
    with pytest.raises(ValueError):
        check_role("root")
