"""`kontor requests export`: every stored request with every field of the service card, JSON or CSV."""
from __future__ import annotations

import csv
import json
from typing import IO, Any

from dialogs.jalali import to_jalali_str
from sms_gateway.settings import Settings
from storage import repository
from storage.db import make_engine, session_factory
from storage.models import Request

COLUMNS = ("tracking_number", "status", "status_reason", "bill_id", "national_id", "mobile", "readings",
           "consumption", "reading_date", "reading_date_jalali", "description", "receipt_reference", "attachments",
           "bill_amount", "payment_id", "created_at", "updated_at")


def as_record(row: Request) -> dict[str, Any]:
    return {"tracking_number": row.tracking_number, "status": row.status, "status_reason": row.status_reason,
            "bill_id": row.bill_id, "national_id": row.national_id, "mobile": row.mobile, "readings": row.readings,
            "consumption": row.consumption, "bill_amount": row.bill_amount, "payment_id": row.payment_id,
            "reading_date": row.reading_date.isoformat(), "reading_date_jalali": to_jalali_str(row.reading_date),
            "description": row.description, "receipt_reference": row.receipt_reference,
            "attachments": row.attachments, "created_at": row.created_at.isoformat() + "Z",
            "updated_at": row.updated_at.isoformat() + "Z"}


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
