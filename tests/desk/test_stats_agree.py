"""The statistics page, its CSV and `kontor stats` agree with each other and with a data set across Jalali months
and seasons, Esfand of the leap year 1403 included."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from sms_gateway import cli
from storage import repository
from storage.models import Request
from tests.desk.conftest import Desk
from tests.desk.support import flagged_request
from tests.unit.test_desk_stats import DATA, utc_of

EXPECTED = {  # by season: period -> (requests, bill_issued, rejected, read_again, under_review)
    "1403 winter": (3, 1, 1, 0, 1),
    "1404 spring": (2, 1, 0, 1, 0),
    "1404 summer": (1, 1, 0, 0, 0),
    "1404 autumn": (1, 0, 1, 0, 0),
    "1404 winter": (1, 1, 0, 0, 0),
    "all": (8, 4, 2, 1, 1),
}


def load_data(desk: Desk) -> None:
    for n, (day, status, hours) in enumerate(DATA):
        confirmed = utc_of(day)
        request_id = flagged_request(desk.services.db, confirmed, f"2000000000{n:02d}")
        if hours is not None:
            with desk.services.db.begin() as db:
                row = db.get(Request, request_id)
                assert row is not None
                repository.set_status(db, row, status, "", confirmed + timedelta(hours=hours))


@pytest.mark.parametrize("by", ["season", "month", "year"])
def test_page_csv_and_cli_agree(
    desk: Desk, by: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KONTOR_CONFIG", str(desk.config))  # the CLI sets it; monkeypatch puts it back
    load_data(desk)
    client = desk.client("aud")
    client.get("/lang/en")
    page_csv = client.get(f"/stats.csv?by={by}").get_data(as_text=True)
    assert cli.main(["stats", "--by", by, "--format", "csv", "--lang", "en", "--config", str(desk.config)]) == 0
    assert list(csv.reader(io.StringIO(capsys.readouterr().out))) == list(csv.reader(io.StringIO(page_csv)))
    html = client.get(f"/stats?by={by}").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(page_csv)))
    for row in table:
        assert f"<td>{row['period']}</td><td>{row['requests']}</td>" in html
    if by == "season":
        got = {
            r["period"]: tuple(int(r[k]) for k in ("requests", "bill_issued", "rejected", "read_again", "under_review"))
            for r in table
        }
        assert got == EXPECTED
        assert table[-1]["avg_hours"] == f"{(1 + 30 + 2 + 10 + 4 + 50 + 3) / 7:.1f}"
        assert table[-1]["p90_hours"] == "50.0"


def test_cli_date_range(desk: Desk, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONTOR_CONFIG", str(desk.config))
    load_data(desk)
    assert (
        cli.main(
            [
                "stats",
                "--by",
                "month",
                "--from",
                "1403/12/30",
                "--to",
                "1404/01/31",
                "--lang",
                "en",
                "--config",
                str(desk.config),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [["1403/12", "2"], ["1404/01", "1"], ["all", "3"]]
