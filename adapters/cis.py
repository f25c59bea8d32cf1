"""The subscriber services system (CIS): a bill's meter, and the out-of-cycle submission that issues a bill."""

from __future__ import annotations

import datetime
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import yaml

from adapters import clock, tariff
from adapters.http import JsonClient, OutsideSystemError
from dialogs.meters import days_since, use_per_register
from dialogs.model import REGISTER_ORDER, Meter, Register
from dialogs.request import BILLED, SUBMITTED, ConfirmedRequest, field_names

if TYPE_CHECKING:
    from sms_gateway.settings import Settings

DEMO_DATA = Path(__file__).parent / "data" / "demo_subscribers.yaml"
STATUSES = ("bill_issued", "under_review")
REQUEST_KEYS = ("tracking_number", *field_names(SUBMITTED))  # the OutOfCycleRequest of openapi/
BILLED_KEYS = field_names(BILLED)  # a replay must repeat these


@dataclass(frozen=True)
class Submission:
    """The subscriber system's answer to an out-of-cycle request: a bill, or a person will look at it."""

    status: str
    amount_rials: int | None
    payment_id: str | None
    reason: str
    consumption: dict[str, float] = field(default_factory=dict)


class SubscriberSystem(Protocol):
    def meter(self, bill_id: str) -> Meter | None:
        """The meter behind a bill ID, or None when the system does not know the bill."""

    def submit(self, request: dict[str, Any]) -> Submission:
        """Hand over a confirmed request; the system bills it or flags it for review."""

    def issue_bill(self, request: dict[str, Any]) -> Submission:
        """A person at the utility approved a flagged request: the system issues its bill (amount, payment ID)."""


def wire_request(tracking_number: str, request: ConfirmedRequest, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """The OutOfCycleRequest body: the submitted fields of the request, its tracking number, the kept media."""
    body = request.to_json()
    return {
        "tracking_number": tracking_number,
        **{key: body[key] for key in field_names(SUBMITTED)},
        "attachments": attachments,
    }


def meter_to_json(meter: Meter) -> dict[str, Any]:
    """The wire form of a meter (see openapi/subscriber-system.yaml)."""
    return asdict(meter) | {"registers": [asdict(reg) for reg in meter.registers]}


def meter_from_json(data: dict[str, Any]) -> Meter:
    """Read the wire form back; a missing or mistyped field is a contract violation."""
    try:
        registers = tuple(
            Register(str(r["name"]), int(r["digits"]), int(r.get("decimals", 0)), str(r["last"]))
            for r in data["registers"]
        )
        if not registers or any(r.name not in REGISTER_ORDER or r.digits < 1 for r in registers):
            raise ValueError("no registers, or one the card does not name")
        return Meter(
            str(data["bill_id"]),
            str(data["kind"]),
            registers,
            str(data["last_date"]),
            int(data.get("multiplier", 1)),
            float(data.get("contract_kw", 0.0)),
            float(data.get("daily_kwh", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise OutsideSystemError("subscriber_system", 200, f"malformed meter: {exc!r}") from exc


def submission_from_json(data: dict[str, Any]) -> Submission:
    """Read a submission answer; an unknown status is a contract violation, never guessed at."""
    try:
        amount = data.get("amount_rials")
        sub = Submission(
            str(data["status"]),
            None if amount is None else int(amount),
            data.get("payment_id"),
            str(data.get("reason", "")),
            {str(k): float(v) for k, v in data["consumption"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise OutsideSystemError("subscriber_system", 200, f"malformed submission: {exc!r}") from exc
    if sub.status not in STATUSES or (
        sub.status == "bill_issued" and not (sub.amount_rials is not None and sub.payment_id)
    ):
        raise OutsideSystemError("subscriber_system", 200, f"unexpected submission answer {data!r}")
    return sub


class HttpSubscriberSystem(JsonClient):
    """The subscriber system's HTTP JSON API (the sandbox's, or the utility's behind the same contract)."""

    system = "subscriber_system"

    def meter(self, bill_id: str) -> Meter | None:
        """GET /bills/{bill_id}/meter; 404 = unknown bill."""
        data = self.get_json(f"/bills/{quote(bill_id, safe='')}/meter", none_on_404=True)
        return None if data is None else meter_from_json(data)

    def submit(self, request: dict[str, Any]) -> Submission:
        """POST /bills/{bill_id}/out-of-cycle; idempotent by tracking number, so a retried job is safe."""
        path = f"/bills/{quote(str(request['bill_id']), safe='')}/out-of-cycle"
        return submission_from_json(self.post_json(path, request))

    def issue_bill(self, request: dict[str, Any]) -> Submission:
        """POST /bills/{bill_id}/out-of-cycle/{tracking}/issue; idempotent by tracking number."""
        path = (
            f"/bills/{quote(str(request['bill_id']), safe='')}/out-of-cycle/"
            f"{quote(str(request['tracking_number']), safe='')}/issue"
        )
        answer = submission_from_json(self.post_json(path, request))
        if answer.status != "bill_issued":
            raise OutsideSystemError("subscriber_system", 200, f"no bill issued: {answer!r}")
        return answer


class BadRequest(ValueError):
    """The request breaks the contract (the sandbox answers 400 with this code)."""


class Conflict(ValueError):
    """The tracking number was already submitted with other readings (the sandbox answers 409)."""


class SandboxSubscriberSystem:
    """Answers from shipped demo data, so Kontor runs end to end with no utility system behind it."""

    def __init__(self, path: Path, rates: tariff.Rates) -> None:
        self.subscribers: dict[str, dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["subscribers"]
        self.rates = rates
        self.answered: dict[str, tuple[dict[str, Any], Submission]] = {}
        self.issued: dict[str, Submission] = {}
        self._lock = threading.Lock()

    def meter(self, bill_id: str) -> Meter | None:
        """The demo meter, last read `last_reading_days_ago` days before today (Tehran): the same demo any day."""
        entry = self.subscribers.get(bill_id)
        if entry is None:
            return None
        registers = tuple(
            Register(name, r["digits"], r.get("decimals", 0), str(r["last"])) for name, r in entry["registers"].items()
        )
        last = (clock.tehran_today() - datetime.timedelta(days=int(entry["last_reading_days_ago"]))).isoformat()
        return Meter(
            bill_id,
            entry["kind"],
            registers,
            last,
            int(entry.get("multiplier", 1)),
            float(entry.get("contract_kw", 0)),
            float(entry.get("daily_kwh", 0)),
        )

    def submit(self, request: dict[str, Any]) -> Submission:
        """Bill the request, or flag it for review; a replay of the same request gets the same answer."""
        meter = self.meter(str(request.get("bill_id", "")))
        if meter is None:
            raise LookupError(request.get("bill_id"))
        reading_date = check_request(meter, request)
        with self._lock:
            seen = self.answered.get(request["tracking_number"])
            if seen is None:
                seen = self.answered[request["tracking_number"]] = (request, self._judge(meter, request, reading_date))
            if any(seen[0][key] != request[key] for key in BILLED_KEYS):
                raise Conflict("tracking_number_reused")
            return seen[1]

    def issue_bill(self, request: dict[str, Any]) -> Submission:
        """Bill a reviewed request whatever the checks said (a person approved it); a replay gets the same bill."""
        meter = self.meter(str(request.get("bill_id", "")))
        if meter is None:
            raise LookupError(request.get("bill_id"))
        reading_date = check_request(meter, request)
        with self._lock:
            if request["tracking_number"] not in self.issued:
                use = use_per_register(meter, request["readings"], request["wraps"])
                days = days_since(meter.last_date, reading_date)
                amount = tariff.bill_rials(meter, use, days, self.rates)
                self.issued[request["tracking_number"]] = Submission(
                    "bill_issued", amount, tariff.payment_id(meter.bill_id, amount, reading_date), "", use
                )
            return self.issued[request["tracking_number"]]

    def _judge(self, meter: Meter, request: dict[str, Any], reading_date: datetime.date) -> Submission:
        """Run the utility's checks, then the illustrative tariff."""
        use = use_per_register(meter, request["readings"], request["wraps"])
        days = days_since(meter.last_date, reading_date)
        reason = tariff.review_reason(meter, use, days, request["wraps"])
        if reason:
            return Submission("under_review", None, None, reason, use)
        amount = tariff.bill_rials(meter, use, days, self.rates)
        return Submission("bill_issued", amount, tariff.payment_id(meter.bill_id, amount, reading_date), "", use)


def check_request(meter: Meter, request: dict[str, Any]) -> datetime.date:
    """Enforce the request contract: every key, one well-formed reading per register, a sane date."""
    missing = [key for key in REQUEST_KEYS if key not in request]
    if missing:
        raise BadRequest(f"missing_{missing[0]}")
    if not re.fullmatch(r"[0-9]{12}", str(request["tracking_number"])):
        raise BadRequest("bad_tracking_number")
    readings, wraps = request["readings"], request["wraps"]
    names = {reg.name for reg in meter.registers}
    if not isinstance(readings, dict) or set(readings) != names:
        raise BadRequest("readings_do_not_match_registers")
    for reg in meter.registers:
        pattern = f"[0-9]{{1,{reg.digits}}}" + (rf"(\.[0-9]{{1,{reg.decimals}}})?" if reg.decimals else "")
        if not re.fullmatch(pattern, str(readings[reg.name])):
            raise BadRequest(f"bad_reading_{reg.name}")
    if not isinstance(wraps, list) or not set(wraps) <= names - {"demand"}:
        raise BadRequest("bad_wraps")
    try:
        reading_date = datetime.date.fromisoformat(str(request["reading_date"]))
    except ValueError:
        raise BadRequest("bad_reading_date") from None
    if reading_date < datetime.date.fromisoformat(meter.last_date):
        raise BadRequest("reading_date_before_last")
    return reading_date


def from_settings(settings: Settings) -> HttpSubscriberSystem:
    """The HTTP client for the configured subscriber system (the sandbox when its url is "")."""
    return HttpSubscriberSystem(settings.endpoint("subscriber_system"), settings.outside_systems)
