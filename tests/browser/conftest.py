"""Browser tests of the desk: real headless Chromium (Debian's `chromium`) driven by Playwright, against real
processes — sandbox, web, worker and `kontor desk` — with a real conversation making the flagged requests.

CI installs the browser with `apt-get install -y chromium`; Playwright's own browser download is never used."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import Engine, create_engine

from tests.conftest import DATABASES, POSTGRES
from tests.support.stack import AUTH_TOKEN, ROOT, Stack, free_port, reset_database, write_config
from tests.support.twilio_standin import TwilioStandIn

PASSWORD = "browser-test-password"
PEOPLE = {"rita": "reviewer", "rob": "reviewer", "aud": "auditor"}


def chromium() -> str:
    """The system's Chromium; skipped on a machine without it, but a failure where CI requires it (.ci/run)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("KONTOR_REQUIRE_BROWSER"):
            pytest.fail("KONTOR_REQUIRE_BROWSER is set but there is no system Chromium")
        pytest.skip("no system Chromium: apt-get install -y chromium (the browser tests never download one)")
    return path


@dataclass
class DeskStack:
    stack: Stack
    twilio: TwilioStandIn
    url: str
    engine: Engine


def wait_for_desk(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(url + "login", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("kontor desk did not start:\n" + log.read_text(errors="replace")[-3000:])


def add_people(config: Path) -> None:
    """Through the real command, the password typed twice on stdin (never on the command line)."""
    for name, role in PEOPLE.items():
        subprocess.run(
            [sys.executable, "-m", "sms_gateway.cli", "users", "add", name, "--role", role, "--config", str(config)],
            input=f"{PASSWORD}\n{PASSWORD}\n",
            text=True,
            check=True,
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )


@pytest.fixture(scope="module", params=DATABASES)
def desk_stack(
    request: pytest.FixtureRequest, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeskStack]:
    chromium()
    folder = tmp_path_factory.mktemp("desk")
    redis.Redis.from_url(redis_server).flushall()
    if request.param == "postgresql":
        reset_database(POSTGRES)
        database_url = POSTGRES
    else:
        database_url = f"sqlite:///{folder / 'kontor.db'}"
    from tests.support.stack import ACCOUNT_SID

    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    port, desk_port = free_port(), free_port()
    config = write_config(folder, redis_server, database_url, twilio.url, port, desk__port=desk_port)
    stack = Stack(config, port, AUTH_TOKEN).start("sandbox", "web", "worker", "desk")
    engine = create_engine(database_url)
    try:
        url = f"http://127.0.0.1:{desk_port}/"
        wait_for_desk(url, stack.procs["desk"], folder / "desk.log")
        assert "created user 'admin' with password: " in (folder / "desk.log").read_text()  # printed once
        add_people(config)
        yield DeskStack(stack, twilio, url, engine)
    finally:
        engine.dispose()
        stack.stop()
        twilio.stop()


@pytest.fixture(scope="module")
def browser(desk_stack: DeskStack) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture()
def snap(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """Save a full-page screenshot under the test's tmp_path, and a copy in $KONTOR_SCREENSHOTS when CI keeps them."""

    def save(page: Any, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("KONTOR_SCREENSHOTS"):
            keep = Path(os.environ["KONTOR_SCREENSHOTS"])
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, keep / f"{request.node.name}-{name}.png")
        return path

    return save
