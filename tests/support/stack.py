"""Real processes for integration and end-to-end tests: redis-server, SQL, `kontor web`, `kontor worker`."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml
from sqlalchemy import MetaData, create_engine
from twilio.request_validator import RequestValidator

from sms_gateway.procs import stop as stop_process

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "0" * 30 + "01"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset_database(url: str) -> None:
    """Drop every table (Alembic's too) so each stack starts from migrations."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    engine.dispose()


def write_config(folder: Path, redis_url: str, database_url: str, twilio_url: str | None,
                 port: int, **overrides: object) -> Path:
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    config["data_dir"] = str(folder / "var")
    config["server"].update(port=port, workers=2)
    config["redis"]["url"] = redis_url
    config["database"]["url"] = database_url
    if twilio_url is not None:
        config["twilio"].update(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio_url)
        config["outbound"]["gateway"] = "twilio"
    config["worker"]["retry_intervals"] = [1, 1, 2]
    config["sandbox"]["port"] = free_port()
    config["limits"].update(per_phone_per_minute=1000, inquire_per_hour=1000)   # fault tests set their own
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        config[section][key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Stack:
    """A running Kontor: web (gunicorn) and worker processes on loopback."""
    config: Path
    port: int
    token: str
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms/twilio"

    def start(self, *roles: str) -> "Stack":
        env = {**os.environ, "KONTOR_CONFIG": str(self.config)}
        command = [sys.executable, "-m", "sms_gateway.cli"]
        subprocess.run(command + ["migrate", "--config", str(self.config)], check=True, env=env, cwd=ROOT,
                       capture_output=True, timeout=120)
        for role in roles or ("sandbox", "web", "worker"):
            log = open(self.config.parent / f"{role}.log", "ab")
            extra = [] if role == "sandbox" else ["--no-migrate"]
            self.procs[role] = subprocess.Popen(command + [role, "--config", str(self.config)] + extra,
                                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                                start_new_session=True)
            log.close()
        if "sandbox" in self.procs:
            self.wait_sandbox()
        if "web" in self.procs:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.procs["web"].poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("kontor web did not become healthy:\n" + self.log("web"))

    def wait_sandbox(self, timeout: float = 15) -> None:
        from adapters.sandbox import wait_until_up

        port = yaml.safe_load(self.config.read_text(encoding="utf-8"))["sandbox"]["port"]
        if not wait_until_up("127.0.0.1", port, timeout):
            raise RuntimeError("kontor sandbox did not start:\n" + self.log("sandbox"))

    def log(self, role: str) -> str:
        path = self.config.parent / f"{role}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self, *roles: str) -> None:
        for role in roles or tuple(self.procs):
            proc = self.procs.pop(role)
            stop_process(proc)

    def post(self, params: dict[str, str], signature: str | None = None, url: str | None = None) -> requests.Response:
        url = url or self.url
        if signature is None:
            signature = RequestValidator(self.token).compute_signature(url, params)
        return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)

    def sms(self, sender: str, body: str, sid: str | None = None, media: list[tuple[str, str]] = ()) -> list[str]:
        """Send one signed SMS as Twilio would and return the TwiML reply messages."""
        params = {"From": sender, "To": "+15005550006", "Body": body, "AccountSid": ACCOUNT_SID,
                  "MessageSid": sid or "SM" + uuid.uuid4().hex, "NumMedia": str(len(media))}
        for i, (url, kind) in enumerate(media):
            params[f"MediaUrl{i}"], params[f"MediaContentType{i}"] = url, kind
        response = self.post(params)
        assert response.status_code == 200, response.text
        return [m.text or "" for m in ET.fromstring(response.content).iter("Message")]
