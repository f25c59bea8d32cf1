"""`kontor requests export`: every stored request with every field of the service card, JSON or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import IO, Any

from dialogs.jalali import to_jalali_str
from sms_gateway.settings import Settings
from storage import repository
from storage.db import make_engine, session_factory
from storage.models import Request

COLUMNS = (
    "tracking_number",
    "status",
    "status_reason",
    "bill_id",
    "national_id",
    "mobile",
    "readings",
    "consumption",
    "reading_date",
    "reading_date_jalali",
    "description",
    "receipt_reference",
    "attachments",
    "bill_amount",
    "payment_id",
    "channel",
    "created_at",
    "updated_at",
)


# Columns that are not a plain attribute of the row; every other column is read as it is.
_DERIVED: dict[str, Callable[[Request], Any]] = {
    "reading_date": lambda row: row.reading_date.isoformat(),
    "reading_date_jalali": lambda row: to_jalali_str(row.reading_date),
    "created_at": lambda row: row.created_at.isoformat() + "Z",
    "updated_at": lambda row: row.updated_at.isoformat() + "Z",
}


def as_record(row: Request) -> dict[str, Any]:
    """One request as the export writes it, its keys in COLUMNS order (the CSV's and the JSON's)."""
    return {column: _DERIVED[column](row) if column in _DERIVED else getattr(row, column) for column in COLUMNS}


def export(settings: Settings, fmt: str, out: IO[str]) -> None:
    engine = make_engine(settings.database_url)
    with session_factory(engine)() as db:
        records = (as_record(r) for r in repository.all_requests(db))
        if fmt == "json":
            _json_array(records, out)
        else:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            for record in records:
                writer.writerow({k: csv_cell(v) for k, v in record.items()})
    engine.dispose()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe (OWASP's advice).

    A subscriber writes the description, so `=HYPERLINK(…)` must never reach a spreadsheet as a live formula;
    a mobile `+98…` stays text the same way, and identifiers keep their leading zeros as the strings they are.
    """
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _json_array(records, out: IO[str]) -> None:  # type: ignore[no-untyped-def]
    """A JSON array written one record at a time, so memory stays flat however many requests there are."""
    out.write("[")
    for i, record in enumerate(records):
        out.write(("," if i else "") + "\n  " + json.dumps(record, ensure_ascii=False))
    out.write("\n]\n")
