"""The smpp section: optional, off until host and password are set, strict about its keys; the password may come
from the environment; `outbound.gateway: smpp` refuses to start while the section is off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters import senders
from sms_gateway.settings import ConfigError
from tests.unit.test_settings import load_with, refused


def test_the_shipped_section_is_off_and_may_be_left_out(tmp_path: Path) -> None:
    shipped = load_with(tmp_path).smpp
    assert shipped is not None and not shipped.enabled
    assert load_with(tmp_path, lambda c: c.pop("smpp")).smpp is None


def test_host_and_password_turn_it_on_and_the_password_may_come_from_the_environment(tmp_path: Path) -> None:
    def on(config: dict[str, Any]) -> None:
        config["smpp"]["host"] = "smsc.example.ir"

    without_password = load_with(tmp_path, on).smpp
    assert without_password is not None and not without_password.enabled
    settings = load_with(tmp_path, on, environ={"KONTOR_SMPP_PASSWORD": "s3cret"})
    assert settings.smpp is not None and settings.smpp.enabled and settings.smpp.password == "s3cret"


def test_its_keys_are_checked_like_every_other(tmp_path: Path) -> None:
    assert "smpp.windows" in refused(tmp_path, lambda c: c["smpp"].update(windows=3))
    assert "smpp.port" in refused(tmp_path, lambda c: c["smpp"].pop("port"))


def test_the_smpp_gateway_needs_the_section_on(tmp_path: Path) -> None:
    settings = load_with(tmp_path, lambda c: c["outbound"].update(gateway="smpp"))
    with pytest.raises(ValueError, match="smpp.host"):
        senders.from_settings(settings)
    with pytest.raises(ConfigError, match="outbound.gateway"):
        load_with(tmp_path, lambda c: c["outbound"].update(gateway="smppp"))
