"""Real processes for integration and end-to-end tests: redis-server, SQL, `kontor web`, `kontor worker`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml
from sqlalchemy import MetaData, create_engine

from sms_gateway.procs import Child, Runner, free_port, kontor_argv
from sms_gateway.webhook_client import Sms, TwilioChannel, WebhookClient, new_message_id

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("KONTOR_TEST_POSTGRES_URL", "")
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES else [])  # every SQL database a stack runs on
ACCOUNT_SID = "AC" + "0" * 30 + "01"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def reset_database(url: str) -> None:
    """Drop every table (Alembic's too) so each stack starts from migrations."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    engine.dispose()


def write_config(
    folder: Path, redis_url: str, database_url: str, twilio_url: str | None, port: int, **overrides: object
) -> Path:
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
    config["limits"].update(per_phone_per_minute=1000, inquire_per_hour=1000)  # fault tests set their own
    override(config, overrides)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def override(config: dict, overrides: dict[str, object]) -> None:
    """Set section__key values (`limits__inquire_per_hour=10`) in a loaded config."""
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        config[section][key] = value


def set_config(path: Path, **overrides: object) -> None:
    """Rewrite section__key values of a written config (a restarted process reads the new values)."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    override(config, overrides)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


@dataclass
class Stack:
    """A running Kontor: web (gunicorn) and worker processes on loopback, logs beside the config."""

    config: Path
    port: int
    token: str
    runner: Runner = field(init=False)
    channel: TwilioChannel = field(init=False)
    client: WebhookClient = field(init=False)

    def __post_init__(self) -> None:
        self.runner = Runner(self.config.parent, cwd=ROOT)
        self.channel = TwilioChannel(self.token, account_sid=ACCOUNT_SID)
        self.client = WebhookClient.local(self.channel, self.port)

    @property
    def procs(self) -> dict[str, Child]:
        return self.runner.procs

    @property
    def url(self) -> str:
        return self.client.url

    def start(self, *roles: str) -> Stack:
        self.runner.run("migrate", kontor_argv("migrate", self.config), {"KONTOR_CONFIG": str(self.config)})
        for role in roles or ("sandbox", "web", "worker"):
            self.runner.kontor(role, self.config, *([] if role == "sandbox" else ["--no-migrate"]))
        if "sandbox" in self.procs:
            self.wait_sandbox()
        if "web" in self.procs:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        self.runner.wait_http("web", f"http://127.0.0.1:{self.port}/healthz", timeout)

    def wait_sandbox(self, timeout: float = 15) -> None:
        port = yaml.safe_load(self.config.read_text(encoding="utf-8"))["sandbox"]["port"]
        self.runner.wait_port("sandbox", port, timeout)

    def log(self, role: str) -> str:
        return self.runner.log(role)

    def stop(self, *roles: str) -> None:
        self.runner.stop(*roles)

    def sign(self, params: dict[str, str], url: str | None = None) -> str:
        """The signature Twilio would send for these params posted to `url` (the webhook by default)."""
        return self.channel.signature(url or self.url, params)

    def post(self, params: dict[str, str], signature: str | None = None, url: str | None = None) -> requests.Response:
        return self.client.post(params, signature, url)

    def sms(self, sender: str, body: str, sid: str | None = None, media: Sequence[tuple[str, str]] = ()) -> list[str]:
        """Send one signed SMS as Twilio would and return the TwiML reply messages."""
        response = self.post(self.channel.form(Sms(sender, body, sid or new_message_id(), media)))
        assert response.status_code == 200, response.text
        return self.channel.replies(response.content)
