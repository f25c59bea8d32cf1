"""The confirmed request is written out once: the job argument, the table, the subscriber system's body and its
replay check all derive from dialogs.request.ConfirmedRequest."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import yaml

from adapters.cis import BILLED_KEYS, REQUEST_KEYS, wire_request
from dialogs.request import Attachment, ConfirmedRequest, field_names
from storage.models import Request

ROOT = Path(__file__).resolve().parents[2]
REQUEST = ConfirmedRequest(
    dialog_id="SM1",
    bill_id="1234567804121",
    national_id="0012345679",
    mobile="+989121234567",
    readings={"low": "012100", "mid": "023100"},
    wraps=("low",),
    reading_date=date(2026, 11, 22),
    description="کنتور حیاط",
    receipt_reference="123456",
    attachments=(Attachment("http://x/1", "image/jpeg", "nid"),),
    language="fa",
    registers=("low", "mid"),
    confirmed_at=datetime(2026, 11, 26, 10, 0),
)


def test_the_job_argument_is_plain_json_and_reads_back_whole():
    payload = REQUEST.to_json()
    assert json.loads(json.dumps(payload)) == payload
    assert ConfirmedRequest.from_json(payload) == REQUEST
    assert payload["attachments"] == [{"url": "http://x/1", "content_type": "image/jpeg", "step": "nid"}]
    assert payload["reading_date"] == "2026-11-22" and payload["confirmed_at"] == "2026-11-26T10:00:00"


def test_a_job_queued_before_a_field_existed_still_runs():
    old = {k: v for k, v in REQUEST.to_json().items() if k not in ("wraps", "registers")}
    assert ConfirmedRequest.from_json(old).wraps == () and ConfirmedRequest.from_json(old).registers == ()


def test_every_field_has_its_column():
    assert set(field_names()) <= set(Request.__table__.columns.keys())


def test_the_subscriber_systems_body_is_the_contracts():
    spec = yaml.safe_load((ROOT / "adapters" / "openapi" / "subscriber-system.yaml").read_text(encoding="utf-8"))
    schema = spec["components"]["schemas"]["OutOfCycleRequest"]
    assert set(REQUEST_KEYS) == set(schema["required"]) == set(schema["properties"])
    body = wire_request("140509050012", REQUEST, [{"url": "http://x/1", "content_type": "image/jpeg"}])
    assert set(body) == set(REQUEST_KEYS) and body["wraps"] == ["low"] and body["reading_date"] == "2026-11-22"
    assert set(BILLED_KEYS) == {"bill_id", "national_id", "readings", "reading_date", "wraps"}
