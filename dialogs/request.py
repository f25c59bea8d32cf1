"""The confirmed request: every field of the service card, written out once; storage, jobs, the subscriber
system and the export derive their field lists from this dataclass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any

# Field metadata: SUBMITTED goes to the subscriber system; BILLED must be repeated exactly by a replay.
SUBMITTED, BILLED = "submitted", "billed"


@dataclass(frozen=True)
class Attachment:
    """An MMS media item sent during the dialog, with the step it arrived at."""

    url: str
    content_type: str
    step: str = ""


def _card(*, submitted: bool = False, billed: bool = False, **kw: Any) -> Any:
    return field(metadata={SUBMITTED: submitted or billed, BILLED: billed}, **kw)


@dataclass(frozen=True, kw_only=True)
class ConfirmedRequest:
    """What the subscriber confirmed with `1`; `dialog_id` makes storing it idempotent."""

    dialog_id: str = _card()
    bill_id: str = _card(billed=True)
    national_id: str = _card(billed=True)
    mobile: str = _card(submitted=True)
    readings: dict[str, str] = _card(billed=True)  # register name -> value, card order
    wraps: tuple[str, ...] = _card(billed=True, default=())
    reading_date: date = _card(billed=True)
    description: str = _card(submitted=True, default="")
    receipt_reference: str = _card(submitted=True, default="")
    attachments: tuple[Attachment, ...] = _card(submitted=True, default=())
    language: str = _card(default="fa")
    registers: tuple[str, ...] = _card(default=())
    confirmed_at: datetime = _card()  # local (Tehran) time, or with its offset
    # The channel the confirming message came by (export, desk statistics); "sms" (the column's default) = not
    # recorded: requests stored, or jobs enqueued, before channels were.
    channel: str = _card(default="sms")

    def to_json(self) -> dict[str, Any]:
        """One JSON-safe dict (the RQ job's argument)."""
        return {f.name: _json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfirmedRequest:
        """Back from to_json() (dates may also come as date objects); a key an older payload lacks takes its default."""
        return cls(**{f.name: _DECODE[str(f.type)](data[f.name]) for f in fields(cls) if f.name in data})


def field_names(flag: str | None = None) -> tuple[str, ...]:
    """The request's field names, all of them or those with a metadata flag (SUBMITTED, BILLED)."""
    return tuple(f.name for f in fields(ConfirmedRequest) if flag is None or f.metadata[flag])


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Attachment):
        return asdict(value)
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def _attachment(item: dict[str, Any]) -> Attachment:
    return Attachment(str(item["url"]), str(item["content_type"]), str(item.get("step", "")))


_DECODE: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "date": lambda v: v if isinstance(v, date) else date.fromisoformat(v),
    "datetime": lambda v: v if isinstance(v, datetime) else datetime.fromisoformat(v),
    "dict[str, str]": lambda v: {str(k): str(x) for k, x in v.items()},
    "tuple[str, ...]": lambda v: tuple(str(x) for x in v),
    "tuple[Attachment, ...]": lambda v: tuple(_attachment(a) for a in v),
}
