"""Integration fixtures shared by the worker-side tests: installed services on real Redis and SQL, the sandbox, and
a Twilio stand-in."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters import sandbox
from sms_gateway import bootstrap, runtime
from tests.support.hook import installed_services
from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN, free_port
from tests.support.twilio_standin import TwilioStandIn


@pytest.fixture()
def world(tmp_path: Path, redis_server: str, database_url: str) -> Iterator[tuple[runtime.Services, TwilioStandIn]]:
    """The worker's services installed as `kontor worker` installs them, the sandbox, and the Twilio stand-in."""
    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    services = installed_services(
        tmp_path,
        redis_server,
        twilio.url,
        database__url=database_url,
        sandbox__port=free_port(),
        outbound__per_sender_per_second=1000,
        worker__batch_size=10,  # small batches: a few requests already make several
    )
    box = sandbox.start(services.settings)
    yield services, twilio
    box.stop()
    twilio.stop()
    services.engine.dispose()
    bootstrap.uninstall()


def new_phone() -> str:
    """A mobile no other test uses."""
    return f"+98912{uuid.uuid4().int % 10**7:07d}"
