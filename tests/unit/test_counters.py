"""The per-process counters' pure parts: what a dialog step counts, the job timer, the inbound outcomes, the
outside-system refusal count, and that `kontor` sets the multiprocess folder before prometheus_client loads."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import prometheus_client
import pytest
import requests

from adapters.http import JsonClient, OutsideSystemError, OutsideSystemUnavailable
from dialogs.engine import new_session
from dialogs.model import FinishRequest, Outcome
from dialogs.request import ConfirmedRequest
from sms_gateway import cli, counters
from sms_gateway.channels import common
from sms_gateway.serve import child_exit
from sms_gateway.settings import load

NOW = datetime(2026, 3, 1, 12, 0)
IDLE = 30
OPEN = new_session("SM1", "fa", NOW - timedelta(minutes=5))
STALE = new_session("SM1", "fa", NOW - timedelta(minutes=IDLE + 1))
FINISH = FinishRequest(cast(ConfirmedRequest, None))  # only its kind matters here
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        (None, Outcome(None, ["menu"]), []),
        (None, Outcome(new_session("SM2", "fa", NOW)), ["started"]),
        (OPEN, Outcome(OPEN), []),
        (OPEN, Outcome(None, effects=[FINISH]), ["confirmed"]),
        (OPEN, Outcome(None, ["cancelled"]), ["abandoned:cancelled"]),
        (OPEN, Outcome(new_session("SM2", "fa", NOW)), ["abandoned:restarted", "started"]),
        (STALE, Outcome(None, ["expired", "menu"]), ["abandoned:expired"]),
        (STALE, Outcome(new_session("SM2", "fa", NOW)), ["abandoned:expired", "started"]),
    ],
)
def test_dialog_events(before: Any, after: Outcome, events: list[str]) -> None:
    assert counters.dialog_events(before, after, NOW, IDLE) == events


def job_count(name: str, result: str) -> float:
    return (
        prometheus_client.REGISTRY.get_sample_value("kontor_job_seconds_count", {"function": name, "result": result})
        or 0
    )


def test_timed_counts_each_result_and_keeps_the_job() -> None:
    @counters.timed
    def sample_job(kind: str) -> str:
        if kind == "down":
            raise OutsideSystemUnavailable("civil_registry")
        if kind == "bug":
            raise KeyError(kind)
        return kind

    before = {r: job_count("sample_job", r) for r in ("ok", "unavailable", "error")}
    assert sample_job("fine") == "fine" and sample_job.__name__ == "sample_job"
    with pytest.raises(OutsideSystemUnavailable):
        sample_job("down")
    with pytest.raises(KeyError):
        sample_job("bug")
    assert {r: job_count("sample_job", r) - before[r] for r in before} == {"ok": 1, "unavailable": 1, "error": 1}


def test_an_unknown_inbound_outcome_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown inbound outcome"):
        counters.message_in("twilio", "answred")


class Refusing(requests.Session):
    """Answers every request with a 400, as a system refusing the call would."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]  # narrower use
        response = requests.Response()
        response.status_code, response._content = 400, b'{"error": "bad"}'
        return response


def test_a_refused_call_is_one_error_and_the_breaker_stays_closed() -> None:
    outside = load(ROOT / "config.yaml").outside_systems
    client = JsonClient("http://127.0.0.1:9", outside, session=Refusing())
    client.system = "unit_system"
    sample = {"system": "unit_system", "kind": "refused"}
    before = prometheus_client.REGISTRY.get_sample_value("kontor_outside_errors_total", sample) or 0
    with pytest.raises(OutsideSystemError):
        client.get_json("/x")
    assert prometheus_client.REGISTRY.get_sample_value("kontor_outside_errors_total", sample) == before + 1
    assert prometheus_client.REGISTRY.get_sample_value("kontor_outside_breaker_state", {"system": "unit_system"}) == 0


def test_the_cli_loads_no_metric_before_setting_the_folder() -> None:
    code = "import sys; from sms_gateway import cli; cli.parser(); print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_setting_the_folder_after_prometheus_client_loaded_is_refused() -> None:
    with pytest.raises(RuntimeError, match="imported before"):
        cli.metrics_dir(load(ROOT / "config.yaml"))


def exported_samples() -> set[str]:
    """Every sample name Kontor can export: the per-process families here, the scrape-time ones of metrics.py."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = {
        family.name + suffix
        for family in prometheus_client.REGISTRY.collect()
        if family.name.startswith("kontor_")
        for suffix in suffixes.get(family.type, ("",))
    }
    return names | set(re.findall(r'"(kontor_\w+)"', (ROOT / "sms_gateway" / "metrics.py").read_text()))


def test_the_sample_dashboard_uses_only_exported_series() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-kontor.json").read_text(encoding="utf-8"))
    used = {
        name for panel in dashboard["panels"] for t in panel["targets"] for name in re.findall(r"kontor_\w+", t["expr"])
    }
    assert used - exported_samples() == set()
    assert {"kontor_messages_in_total", "kontor_outside_breaker_state", "kontor_job_seconds_bucket"} <= used


def test_an_exited_gunicorn_worker_takes_its_live_gauges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("gauge_livemax_4242.db", "counter_4242.db", "gauge_livemax_4343.db"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    child_exit(None, SimpleNamespace(pid=4242))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db", "gauge_livemax_4343.db"]


def test_a_process_that_exits_cleanly_takes_its_live_gauges(tmp_path: Path) -> None:
    code = (
        "import os; from adapters import telemetry; telemetry.breaker('x', 'open'); telemetry.error('x', 'server');"
        "print(os.getpid())"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{out.stdout.strip()}.db"]


def test_a_channel_outside_flask_names_itself() -> None:
    sample = {"channel": "smpp", "outcome": "refused_signature"}
    before = prometheus_client.REGISTRY.get_sample_value("kontor_messages_in_total", sample) or 0
    common.count("refused_signature", "smpp")
    assert prometheus_client.REGISTRY.get_sample_value("kontor_messages_in_total", sample) == before + 1
