"""`kontor metrics` as a real process beside the e2e stack (sandbox, web, worker): a conversation moves its figures,
both those read from SQL/Redis and the per-process counters the web and worker write (multiprocess mode)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sms_gateway.procs import stop
from sms_gateway.webhook_client import Sms, new_message_id
from tests.support.stack import ROOT, Stack, free_port
from tests.support.twilio_standin import TwilioStandIn


@pytest.fixture()
def metrics_url(stack: Stack, tmp_path: Path) -> Iterator[str]:
    config = yaml.safe_load(stack.config.read_text(encoding="utf-8"))
    config["metrics"]["port"] = port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with open(tmp_path / "metrics.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "sms_gateway.cli", "metrics", "--config", str(path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                requests.get(url, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield url
    finally:
        stop(proc)


def scrape(url: str) -> dict[str, float]:
    """label-free keys like 'kontor_requests{channel=twilio,status=bill_issued}'."""
    text = requests.get(url, timeout=5).text
    return {
        s.name + "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}": s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_conversation_moves_the_metrics(stack: Stack, twilio: TwilioStandIn, metrics_url: str) -> None:
    phone = "+989121234567"
    before, sent_before = scrape(metrics_url), len(twilio.to(phone))
    for answer in ("قرائت", "1234567804121", "0012345679", "04620", "0", "0", "0", "1"):
        stack.sms(phone, answer)
    deadline = time.monotonic() + 30
    while len(twilio.to(phone)) < sent_before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = scrape(metrics_url)
    issued = "kontor_requests{channel=twilio,status=bill_issued}"  # a request records its channel
    sent = "kontor_outbound_messages{gateway=twilio,status=sent}"
    assert after[issued] == before.get(issued, 0) + 1
    assert after[sent] == before.get(sent, 0) + 2
    assert after["kontor_scrape_error{source=sql}"] == 0 and after["kontor_scrape_error{source=redis}"] == 0


CONVERSATION = ("قرائت", "1234567804121", "0012345679", "04620", "0", "0", "0", "1")
IN = "kontor_messages_in_total{channel=twilio,outcome=%s}"
JOB = "kontor_job_seconds_count{function=%s,result=ok}"
CALLS = "kontor_outside_call_seconds_count{system=%s}"
SYSTEMS = ("subscriber_system", "civil_registry", "mobile_ownership")


def moved(before: dict[str, float], after: dict[str, float]) -> Callable[[str], float]:
    return lambda key: after.get(key, 0) - before.get(key, 0)


def wait_for(url: str, ready: Callable[[dict[str, float]], bool]) -> dict[str, float]:
    """Scrape until `ready` (a job's timing lands just after its SMS left); the last scrape either way."""
    deadline = time.monotonic() + 30
    while not ready(after := scrape(url)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return after


def test_a_conversation_moves_the_per_process_counters(stack: Stack, twilio: TwilioStandIn, metrics_url: str) -> None:
    phone, other = "+989121234567", "+989121234569"  # the first owns the demo meter
    before = scrape(metrics_url)
    for answer in CONVERSATION:
        stack.sms(phone, answer)
    repeated = Sms(other, "قرائت", new_message_id())
    for _ in range(2):  # Twilio's redelivery of one message: the second is a duplicate
        assert stack.post(stack.channel.form(repeated)).status_code == 200
    stack.sms(other, "لغو")
    assert stack.post(stack.channel.form(Sms(other, "x", new_message_id())), signature="bad").status_code == 403
    after = wait_for(metrics_url, lambda now: moved(before, now)(JOB % "process_request") >= 1)
    delta = moved(before, after)
    assert delta(IN % "answered") == len(CONVERSATION) + 2
    assert delta(IN % "duplicate") == 1
    assert delta(IN % "refused_signature") == 1
    assert delta(IN % "try_again") == 0 and delta(IN % "limited") == 0
    assert delta("kontor_dialogs_started_total{}") == 2
    assert delta("kontor_dialogs_confirmed_total{}") == 1
    assert delta("kontor_dialogs_abandoned_total{reason=cancelled}") == 1
    assert delta(JOB % "finish_confirmed") == 1 and delta(JOB % "process_request") == 1
    assert [delta(CALLS % system) for system in SYSTEMS] == [2, 1, 1]  # bill lookup (web) and submit (worker)
    assert not any(delta(key) for key in after if key.startswith("kontor_outside_errors_total"))
    assert all(after[f"kontor_outside_breaker_state{{system={system}}}"] == 0 for system in SYSTEMS)
