"""One clock: Tehran time and UTC from one source, pinned in tests, moved by KONTOR_CLOCK_SHIFT_DAYS."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from adapters.clock import SHIFT_VARIABLE, TEHRAN, Clock, local_date
from sms_gateway import bootstrap, runtime
from sms_gateway.settings import load

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 29, 21, 0, 30, 123456)  # naive UTC: 00:30 on the next day in Tehran


def test_a_fixed_clock_reads_utc_and_tehran() -> None:
    clock = Clock.fixed(AT)
    assert clock.utcnow() == datetime(2026, 11, 29, 21, 0, 30) and clock.utcnow().tzinfo is None
    assert clock.tehran_now() == datetime(2026, 11, 30, 0, 30, 30, tzinfo=TEHRAN)
    assert clock.tehran_today() == date(2026, 11, 30)  # 1405/09/09
    assert local_date(clock.utcnow()) == date(2026, 11, 30)


def test_the_shift_moves_every_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SHIFT_VARIABLE, "365")
    shifted = Clock.from_environment()
    assert shifted.shift == timedelta(days=365)
    assert abs(shifted.now() - datetime.now(UTC) - timedelta(days=365)) < timedelta(seconds=5)
    monkeypatch.delenv(SHIFT_VARIABLE)
    assert Clock.from_environment().shift == timedelta(0)


def test_jobs_take_the_installed_services_or_build_them_from_kontor_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.setenv("KONTOR_CONFIG", str(path))
    bootstrap.uninstall()
    try:
        fallback = bootstrap.services()  # an RQ process started without `kontor worker`
        assert fallback.settings.source == str(path.resolve()) and bootstrap.services() is fallback
        pinned = runtime.build(load(path), Clock.fixed(AT))  # a test's own parts, no environment needed
        assert bootstrap.install(pinned) is pinned and bootstrap.services() is pinned
        assert bootstrap.services().clock.tehran_today() == date(2026, 11, 30)
    finally:
        bootstrap.uninstall()
