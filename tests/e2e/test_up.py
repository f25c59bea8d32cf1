"""The newcomer's path: `kontor up` on embedded defaults (no Twilio account, no Redis installed),
then `kontor phone` walks a whole conversation and receives the tracking number from the local outbox."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from pathlib import Path

import requests
import yaml

from sms_gateway.procs import Runner, kontor_argv
from sms_gateway.runtime import catalogue
from tests.support.stack import ROOT, free_port

CAT = catalogue()
ANSWERS = ["قرائت", "1234567804121", "0012345679", "04620", "0", "0", "0", "1"]


def desk_answers(config: Path, timeout: float = 30) -> bool:
    """`kontor up` started the desk too: its login page answers on desk.port."""
    port = yaml.safe_load(config.read_text(encoding="utf-8"))["desk"]["port"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200
        except requests.RequestException:
            time.sleep(0.2)
    return False


def local_config(folder: Path) -> tuple[Path, int]:
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    port = free_port()
    config["data_dir"] = str(folder / "var")
    config["server"].update(port=port, workers=1)
    config["sandbox"]["port"] = free_port()
    config["desk"]["port"] = free_port()
    config["metrics"]["port"] = free_port()
    assert config["redis"]["url"] == "" and config["twilio"]["account_sid"] == ""  # the embedded defaults
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path, port


def read_lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)


def test_kontor_up_and_the_terminal_phone(tmp_path: Path) -> None:
    config, port = local_config(tmp_path)
    stale = tmp_path / "var" / "metrics" / "counter_999999.db"  # a previous run's counts
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    runner = Runner(tmp_path, cwd=tmp_path)
    up = runner.start("up", kontor_argv("up", config))
    try:
        runner.wait_http("up", f"http://127.0.0.1:{port}/healthz", timeout=60)
        second = subprocess.run(kontor_argv("up", config), capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert second.returncode == 2, second.stderr  # a second `up` on the same data_dir
        assert not stale.exists() and any(stale.parent.glob("*.db"))  # emptied at start, not by the refused one
        assert f"(pid {up.pid})" in second.stderr, second.stderr  # names the running instance
        runner.wait_http("up", f"http://127.0.0.1:{port}/healthz", timeout=5)  # and the first still answers
        phone = subprocess.Popen(
            kontor_argv("phone", config, "--from", "09121234567"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=read_lines, args=(phone.stdout, lines), daemon=True).start()
        for answer in ANSWERS:
            phone.stdin.write(answer + "\n")
            phone.stdin.flush()
        seen, deadline = "", time.monotonic() + 60
        while seen.count("📩") < 2 and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                seen += lines.get(timeout=1)
        phone.stdin.close()
        phone.wait(15)
        assert CAT.text("confirmed", "fa") in seen, seen
        assert "📩 SMS: " + CAT.text("tracking_sms", "fa", tracking="")[:-1] in seen, seen
        assert "شناسه پرداخت" in seen, seen  # the issued bill arrived too
        assert desk_answers(config) and "created user 'admin' with password" in runner.log("up")
    finally:
        runner.stop("up", timeout=60)  # SIGTERM, as a Ctrl-C would
    assert up.returncode == 0, runner.log("up")
    leftovers = subprocess.run(["pgrep", "-af", str(tmp_path)], capture_output=True, text=True).stdout
    assert leftovers == "", f"processes left running: {leftovers}"
