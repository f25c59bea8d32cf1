"""In-process harness: Kontor's real Flask app on a real Redis and SQLite, signed like Twilio, for webhook tests."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from adapters import clock, sandbox
from sms_gateway import bootstrap, runtime
from sms_gateway.app import create_app
from sms_gateway.runtime import Services
from sms_gateway.settings import Settings, load, webhook_token
from sms_gateway.webhook_client import Sms, TwilioChannel, new_message_id
from storage.db import upgrade
from tests.support.stack import ACCOUNT_SID, write_config

URL = "http://localhost/sms/twilio"


@dataclasses.dataclass
class Hook:
    """The webhook as Twilio sees it: signed posts into the real app, TwiML replies out."""

    client: FlaskClient
    services: Services

    @property
    def token(self) -> str:
        return webhook_token(self.services.settings)

    @property
    def channel(self) -> TwilioChannel:
        return TwilioChannel(self.token, account_sid=ACCOUNT_SID)

    def post(self, params: dict[str, str], signature: str | None = None, **kwargs: Any) -> TestResponse:
        headers = self.channel.headers(URL, params, signature)
        return self.client.post(self.channel.path, data=params, headers=headers, **kwargs)

    def params(self, phone: str, body: str, sid: str | None = None) -> dict[str, str]:
        return self.channel.form(Sms(phone, body, sid or new_message_id()))

    def sms(self, phone: str, body: str, sid: str | None = None) -> list[str]:
        """One signed SMS; asserts a 200 and returns the reply messages."""
        response = self.post(self.params(phone, body, sid))
        assert response.status_code == 200, (response.status_code, response.data[:300])
        return replies(response)

    def converse(self, phone: str, bodies: list[str]) -> list[str]:
        out: list[str] = []
        for body in bodies:
            out = self.sms(phone, body)
        return out


def replies(response: TestResponse) -> list[str]:
    return TwilioChannel("").replies(response.data)


def settings_for(folder: Path, redis_url: str, twilio_url: str | None = None, **overrides: Any) -> Settings:
    """The shipped settings on this Redis and a fresh SQLite file, with section__key overrides."""
    path = write_config(folder, redis_url, f"sqlite:///{folder / 'kontor.db'}", twilio_url, 0, **overrides)
    return load(path)


@contextmanager
def running_hook(settings: Settings) -> Iterator[Hook]:
    """Migrations, an in-process sandbox on a free port, and the app built by runtime.build."""
    upgrade(settings.database_url)
    box = sandbox.start(settings, port=0)
    try:
        settings = dataclasses.replace(
            settings, sandbox=dataclasses.replace(settings.sandbox, host="127.0.0.1", port=box.port)
        )
        services = runtime.build(settings)
        yield Hook(create_app(services).test_client(), services)
        services.redis.close()
        services.engine.dispose()
    finally:
        box.stop()


def flush(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()


def installed_services(tmp_path: Path, redis_url: str, twilio_url: str, **overrides: object) -> Services:
    """The worker's services on these settings, installed as `kontor worker` installs its own."""
    flush(redis_url)
    settings = settings_for(tmp_path, redis_url, twilio_url, **overrides)
    upgrade(settings.database_url)
    return bootstrap.install(runtime.build(settings))


def confirmed_payload(mobile: str, bill: str = "1234567804121", language: str = "en") -> dict[str, object]:
    """The finishing job's argument for the single-rate demo meter, read today (its last reading was 30 days ago)."""
    now = clock.tehran_now()
    return {
        "dialog_id": "SM" + uuid.uuid4().hex,
        "bill_id": bill,
        "national_id": "0012345679",
        "mobile": mobile,
        "readings": {"mid": "04620"},
        "reading_date": now.date().isoformat(),
        "language": language,
        "registers": ["mid"],
        "confirmed_at": now.isoformat(),
    }
