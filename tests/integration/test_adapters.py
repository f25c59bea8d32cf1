"""The HTTP clients against the RUNNING sandbox on loopback: demo cases, retries, breaker, timeouts, contracts."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jdatetime
import pytest
import requests
import yaml

from adapters import cis, clock, ownership, registry, sandbox
from adapters.cis import HttpSubscriberSystem, Submission
from adapters.http import CircuitBreaker, OutsideSystemError, OutsideSystemUnavailable
from dialogs.ids import make_payment_id, valid_payment_id
from sms_gateway.settings import Settings, load

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "adapters" / "openapi"
BASE = load(ROOT / "config.yaml")
SINGLE, TOU, INDUSTRIAL, SINGLE_2 = "1234567804121", "2345678904125", "3456789004123", "4567890104120"
UNKNOWN_BILL = "9876543204124"
TODAY = clock.tehran_today()  # the sandbox's last readings are 30 days before today
PLANT = {"low": "100100", "mid": "200200", "peak": "050050", "reactive": "080030", "friday": "010010"}


def configure(settings: Settings = BASE, *, sandbox_: dict[str, Any] | None = None, **outside: Any) -> Settings:
    """The shipped settings with sandbox faults and outside-system limits overridden."""
    box = dataclasses.replace(settings.sandbox, host="127.0.0.1", **(sandbox_ or {}))
    return dataclasses.replace(
        settings, sandbox=box, outside_systems=dataclasses.replace(settings.outside_systems, **outside)
    )


@contextlib.contextmanager
def running(
    settings: Settings, rng: Callable[[], float] | None = None
) -> Iterator[tuple[sandbox.RunningSandbox, Settings]]:
    """A sandbox on a free loopback port, and the settings that point at it; stopped on exit."""
    box = sandbox.start(settings, port=0, rng=rng)
    try:
        yield box, configure(settings, sandbox_={"port": box.port})
    finally:
        box.stop()


@pytest.fixture(scope="module")
def live() -> Iterator[Settings]:
    with running(configure(sandbox_={"latency_ms": 0, "failure_rate": 0.0})) as (_, settings):
        yield settings


def request(
    bill_id: str,
    readings: dict[str, str],
    *,
    wraps: list[str] | None = None,
    tracking: str = "516700544744",
    day: datetime.date = TODAY,
) -> dict[str, Any]:
    return {
        "tracking_number": tracking,
        "bill_id": bill_id,
        "national_id": "0012345679",
        "mobile": "+989121234567",
        "readings": readings,
        "reading_date": day.isoformat(),
        "description": "",
        "receipt_reference": "",
        "attachments": [],
        "wraps": wraps or [],
    }


@pytest.mark.parametrize(
    ("bill_id", "kind", "names", "digits", "mult", "kw", "daily"),
    [
        (SINGLE, "residential_single_rate", ["mid"], [5], 1, 0, 7),
        (TOU, "residential_time_of_use", ["low", "mid", "peak"], [6, 6, 6], 1, 0, 10),
        (
            INDUSTRIAL,
            "industrial_demand",
            ["low", "mid", "peak", "reactive", "friday", "demand"],
            [6] * 5 + [3],
            40,
            150,
            1300,
        ),
        (SINGLE_2, "residential_single_rate", ["mid"], [5], 1, 0, 8),
    ],
)
def test_meter_of_each_demo_bill(
    live: Settings, bill_id: str, kind: str, names: list[str], digits: list[int], mult: int, kw: float, daily: float
) -> None:
    meter = cis.from_settings(live).meter(bill_id)
    assert meter is not None and meter.bill_id == bill_id and meter.kind == kind
    assert [r.name for r in meter.registers] == names and [r.digits for r in meter.registers] == digits
    last = (TODAY - datetime.timedelta(days=30)).isoformat()
    assert (meter.multiplier, meter.contract_kw, meter.daily_kwh, meter.last_date) == (mult, kw, daily, last)
    assert [r.decimals for r in meter.registers] == [2 if n == "demand" else 0 for n in names]


def test_unknown_bill_has_no_meter(live: Settings) -> None:
    assert cis.from_settings(live).meter(UNKNOWN_BILL) is None


@pytest.mark.parametrize(
    ("nid", "found", "alive"),
    [
        ("0012345679", True, True),
        ("2277889903", True, True),
        ("4455667717", True, True),
        ("3004005001", True, True),
        ("1234567891", True, False),
        ("1111111111", False, False),
    ],
)
def test_civil_registry(live: Settings, nid: str, found: bool, alive: bool) -> None:
    assert registry.from_settings(live).person(nid) == registry.PersonStatus(found, alive)


@pytest.mark.parametrize(
    ("mobile", "nid", "match"),
    [
        ("+989121234567", "0012345679", True),
        ("+989351234567", "2277889903", True),
        ("+989191234567", "4455667717", True),
        ("+989121111111", "3004005001", True),
        ("+989301234567", "1234567891", True),
        ("+989121234567", "2277889903", False),
        ("+989120000000", "0012345679", False),
    ],
)
def test_mobile_ownership(live: Settings, mobile: str, nid: str, match: bool) -> None:
    assert ownership.from_settings(live).owner_matches(mobile, nid) is match


@pytest.mark.parametrize(
    ("bill_id", "readings", "amount"),
    [
        (SINGLE, {"mid": "04712"}, 264_000),
        (SINGLE_2, {"mid": "30700"}, 264_000),
        (TOU, {"low": "012100", "mid": "023100", "peak": "004100"}, 667_000),
        (INDUSTRIAL, PLANT | {"demand": "120"}, 58_359_000),
    ],
)
def test_issued_bill_has_a_valid_payment_id(live: Settings, bill_id: str, readings: dict, amount: int) -> None:
    answer = cis.from_settings(live).submit(request(bill_id, readings, tracking=bill_id[:12]))
    assert (answer.status, answer.amount_rials, answer.reason) == ("bill_issued", amount, "")
    assert valid_payment_id(bill_id, answer.payment_id)
    jalali = jdatetime.date.fromgregorian(date=TODAY)  # the period is the reading's Jalali month
    assert answer.payment_id == make_payment_id(bill_id, amount, year=jalali.year, period=jalali.month)


@pytest.mark.parametrize(
    ("tracking", "bill_id", "readings", "wraps", "reason"),
    [
        ("999000000001", SINGLE, {"mid": "00100"}, ["mid"], "meter_wrapped"),
        ("999000000002", SINGLE, {"mid": "05500"}, [], "usage_far_above_usual"),
        ("999000000003", INDUSTRIAL, PLANT | {"demand": "185.5"}, [], "demand_above_contract"),
    ],
)
def test_under_review(
    live: Settings, tracking: str, bill_id: str, readings: dict, wraps: list[str], reason: str
) -> None:
    answer = cis.from_settings(live).submit(request(bill_id, readings, wraps=wraps, tracking=tracking))
    assert answer == Submission("under_review", None, None, reason, answer.consumption)
    assert answer.consumption and all(isinstance(v, float) for v in answer.consumption.values())


def test_resubmission_gets_the_first_answer_and_reuse_is_refused(live: Settings) -> None:
    client = cis.from_settings(live)
    first = client.submit(request(SINGLE, {"mid": "04600"}, tracking="111122223333"))
    replay = request(SINGLE, {"mid": "04600"}, tracking="111122223333") | {"attachments": [{"sha256": "ab"}]}
    assert client.submit(replay) == first
    with pytest.raises(OutsideSystemError) as caught:
        client.submit(request(SINGLE, {"mid": "04999"}, tracking="111122223333"))
    assert caught.value.status == 409


@pytest.mark.parametrize(
    ("bill_id", "readings", "status"),
    [
        (SINGLE, {"mid": "123456"}, 400),
        (SINGLE, {"low": "00001"}, 400),
        (SINGLE, {"mid": "4.5"}, 400),
        (UNKNOWN_BILL, {"mid": "1"}, 404),
    ],
)
def test_contract_violations_are_permanent_errors(live: Settings, bill_id: str, readings: dict, status: int) -> None:
    with pytest.raises(OutsideSystemError) as caught:
        cis.from_settings(live).submit(request(bill_id, readings))
    assert caught.value.status == status


def test_retries_on_503_then_succeeds() -> None:
    draws = iter([0.0, 0.0, 0.99])  # two 503s, then an answer (failure_rate 0.5)
    with running(configure(sandbox_={"failure_rate": 0.5}, retries=2), rng=lambda: next(draws)) as (box, s):
        slept: list[float] = []
        client = HttpSubscriberSystem(s.endpoint("subscriber_system"), s.outside_systems, sleep=slept.append)
        assert client.meter(SINGLE) is not None
        assert box.faults.requests_seen == 3 and slept == [0.2, 0.4]


def test_retries_exhausted_is_unavailable() -> None:
    with running(configure(sandbox_={"failure_rate": 1.0}, retries=2, breaker_failures=10)) as (box, s):
        client = registry.HttpCivilRegistry(s.endpoint("civil_registry"), s.outside_systems, sleep=lambda _: None)
        with pytest.raises(OutsideSystemUnavailable, match="civil_registry.*503"):
            client.person("0012345679")
        assert box.faults.requests_seen == 3


def test_breaker_opens_after_failures_and_closes_after_reset() -> None:
    now = [1000.0]
    settings = configure(sandbox_={"failure_rate": 1.0}, retries=0, breaker_failures=3, breaker_reset_seconds=30)
    with running(settings) as (box, s):
        client = ownership.HttpMobileOwnership(
            s.endpoint("mobile_ownership"), s.outside_systems, clock=lambda: now[0], sleep=lambda _: None
        )
        for _ in range(3):
            with pytest.raises(OutsideSystemUnavailable, match="503"):
                client.owner_matches("+989121234567", "0012345679")
        assert client.breaker.state == "open"
        with pytest.raises(OutsideSystemUnavailable, match="circuit breaker open"):
            client.owner_matches("+989121234567", "0012345679")
        assert box.faults.requests_seen == 3  # the open breaker spared the system
        now[0] += 30  # half-open: one trial, still failing → open again
        with pytest.raises(OutsideSystemUnavailable, match="503"):
            client.owner_matches("+989121234567", "0012345679")
        assert client.breaker.state == "open" and box.faults.requests_seen == 4
        box.faults.failure_rate = 0.0  # the system recovers
        now[0] += 29
        with pytest.raises(OutsideSystemUnavailable, match="circuit breaker open"):
            client.owner_matches("+989121234567", "0012345679")
        now[0] += 1
        assert client.owner_matches("+989121234567", "0012345679") is True
        assert client.breaker.state == "closed" and box.faults.requests_seen == 5


def test_latency_beyond_timeout_is_unavailable() -> None:
    settings = configure(sandbox_={"latency_ms": 1000}, timeout_seconds=0.1, retries=1)
    with running(settings) as (box, s):
        client = cis.HttpSubscriberSystem(s.endpoint("subscriber_system"), s.outside_systems, sleep=lambda _: None)
        started = time.monotonic()
        with pytest.raises(OutsideSystemUnavailable, match="Timeout"):
            client.meter(SINGLE)
        assert time.monotonic() - started < 0.9 and box.faults.requests_seen == 2


def test_nothing_listening_is_unavailable() -> None:
    with running(configure()) as (_, s):
        pass  # stopped: its port refuses connections
    with pytest.raises(OutsideSystemUnavailable, match="ConnectionError"):
        cis.from_settings(configure(s, retries=0)).meter(SINGLE)


def test_half_open_breaker_lets_one_trial_through_across_threads() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset_seconds=5, clock=lambda: now[0])
    breaker.failure()
    breaker.failure()
    now[0] = 5
    allowed: list[bool] = []
    threads = [threading.Thread(target=lambda: allowed.append(breaker.allow())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 1 and breaker.state == "half_open"


@pytest.mark.parametrize("name", ["subscriber-system", "civil-registry", "mobile-ownership"])
def test_openapi_contract_is_valid(name: str) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(yaml.safe_load((OPENAPI / f"{name}.yaml").read_text(encoding="utf-8")))


def _inline(node: Any, spec: dict[str, Any]) -> Any:
    """The schema with every local $ref replaced by what it names (the contracts have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _inline(target, spec)
        return {key: _inline(value, spec) for key, value in node.items()}
    return [_inline(item, spec) for item in node] if isinstance(node, list) else node


@pytest.mark.parametrize(
    ("name", "schema", "method", "path", "body"),
    [
        ("subscriber-system", "Meter", "GET", f"/bills/{INDUSTRIAL}/meter", None),
        (
            "subscriber-system",
            "Submission",
            "POST",
            f"/bills/{TOU}/out-of-cycle",
            request(TOU, {"low": "012100", "mid": "023100", "peak": "004100"}, tracking="222233334444"),
        ),
        (
            "subscriber-system",
            "Submission",
            "POST",
            f"/bills/{SINGLE}/out-of-cycle",
            request(SINGLE, {"mid": "00100"}, wraps=["mid"], tracking="333344445555"),
        ),
        ("subscriber-system", "Error", "GET", f"/bills/{UNKNOWN_BILL}/meter", None),
        ("civil-registry", "PersonStatus", "GET", "/persons/1234567891", None),
        ("mobile-ownership", "OwnerMatch", "GET", "/%2B989121234567/owner/0012345679", None),
    ],
)
def test_sandbox_answers_match_the_contract(
    live: Settings, name: str, schema: str, method: str, path: str, body: dict | None
) -> None:
    schema_validator = pytest.importorskip("openapi_schema_validator")
    spec = yaml.safe_load((OPENAPI / f"{name}.yaml").read_text(encoding="utf-8"))
    if body is not None:
        schema_validator.validate(
            body, _inline(spec["components"]["schemas"]["OutOfCycleRequest"], spec), cls=schema_validator.OAS30Validator
        )
    answer = requests.request(method, live.endpoint(name.replace("-", "_")) + path, json=body, timeout=5).json()
    schema_validator.validate(
        answer, _inline(spec["components"]["schemas"][schema], spec), cls=schema_validator.OAS30Validator
    )
