"""`kontor metrics` as a real process beside the e2e stack: a conversation moves its figures."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sms_gateway.procs import stop
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
    """label-free keys like 'kontor_requests{channel=sms,status=bill_issued}'."""
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
    issued = "kontor_requests{channel=sms,status=bill_issued}"
    sent = "kontor_outbound_messages{gateway=twilio,status=sent}"
    assert after[issued] == before.get(issued, 0) + 1
    assert after[sent] == before.get(sent, 0) + 2
    assert after["kontor_scrape_error{source=sql}"] == 0 and after["kontor_scrape_error{source=redis}"] == 0
