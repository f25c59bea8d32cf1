"""Settings stay strict but light: a wrong, unknown or missing key stops Kontor with its dotted name."""

from __future__ import annotations

import copy
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from sms_gateway import runtime
from sms_gateway.settings import ConfigError, Settings, load, webhook_token

ROOT = Path(__file__).resolve().parents[2]
SHIPPED: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def load_with(tmp_path: Path, change: Any = None, environ: dict[str, str] | None = None) -> Settings:
    """The shipped config.yaml, changed in place by `change(config)`, loaded from tmp_path."""
    config = copy.deepcopy(SHIPPED)
    if change:
        change(config)
    return load(write(tmp_path, config), environ=environ or {})


def refused(tmp_path: Path, change: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_with(tmp_path, change)
    return str(caught.value)


def production(config: dict[str, Any]) -> None:
    """A production config: the real outside systems, and no sandbox or tariff section at all."""
    for name in ("subscriber_system", "civil_registry", "mobile_ownership"):
        config[name]["url"] = f"https://{name}.example.ir"
    del config["sandbox"], config["tariff"]


def test_the_shipped_config_loads_with_its_types(tmp_path: Path) -> None:
    settings = load_with(tmp_path)
    assert settings.server.port == 8080 and settings.worker.retry_intervals == [5, 30, 120, 600]
    assert settings.outside_systems.timeout_seconds == 3.0 and isinstance(
        settings.outside_systems.timeout_seconds, float
    )
    assert settings.tariff is not None and settings.tariff.time_of_use["peak"] == 2.0
    assert settings.sandbox.latency_ms == 0 and settings.twilio.auth_token == ""
    assert Path(settings.data_dir) == tmp_path / "var" and settings.source == str(tmp_path / "config.yaml")


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (lambda c: c.update(extra=1), "extra"),
        (lambda c: c.update(source="elsewhere"), "source"),
        (lambda c: c["server"].update(hostname="x"), "server.hostname"),
        (lambda c: c["sandbox"].update(latency=5), "sandbox.latency"),
    ],
)
def test_an_unknown_key_is_named(tmp_path: Path, change: Any, name: str) -> None:
    assert refused(tmp_path, change) == f"unknown setting(s): {name}"


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (lambda c: c.pop("limits"), "limits"),
        (lambda c: c["dialog"].pop("lock_seconds"), "dialog.lock_seconds"),
        (lambda c: c["tariff"].pop("vat"), "tariff.vat"),
    ],
)
def test_a_missing_key_is_named(tmp_path: Path, change: Any, name: str) -> None:
    assert refused(tmp_path, change) == f"missing setting(s): {name}"


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (lambda c: c["server"].update(port="8080"), "server.port"),
        (lambda c: c["limits"].update(per_phone_per_minute=True), "limits.per_phone_per_minute"),
        (lambda c: c["readings"].update(usual_factor=False), "readings.usual_factor"),
        (lambda c: c["worker"].update(retry_intervals=[5, "x"]), "worker.retry_intervals"),
        (lambda c: c["documents"].update(require_receipt=1), "documents.require_receipt"),
        (lambda c: c.update(server=5), "server"),
    ],
)
def test_a_wrong_type_is_named(tmp_path: Path, change: Any, name: str) -> None:
    assert refused(tmp_path, change).startswith(f"{name}: expected ")


def test_an_int_is_taken_for_a_float_and_an_empty_string_may_be_left_empty(tmp_path: Path) -> None:
    def change(c: dict[str, Any]) -> None:
        c["tariff"]["vat"], c["redis"]["url"] = 1, None

    settings = load_with(tmp_path, change)
    assert settings.tariff is not None and settings.tariff.vat == 1.0 and isinstance(settings.tariff.vat, float)
    assert settings.redis.url == "" and settings.embedded_redis


def test_a_production_config_leaves_out_the_sandbox_and_the_tariff(tmp_path: Path) -> None:
    settings = load_with(tmp_path, production)
    assert not settings.uses_sandbox and settings.tariff is None
    assert (settings.sandbox.latency_ms, settings.sandbox.failure_rate) == (0, 0.0)


def test_the_fault_injection_keys_are_optional(tmp_path: Path) -> None:
    def change(c: dict[str, Any]) -> None:
        c["sandbox"] = {"host": "127.0.0.1", "port": 8091}

    box = load_with(tmp_path, change).sandbox
    assert (box.port, box.latency_ms, box.failure_rate) == (8091, 0, 0.0)


def test_the_sandbox_needs_the_tariff(tmp_path: Path) -> None:
    assert refused(tmp_path, lambda c: c.pop("tariff")).startswith("tariff: required")


def test_other_checks_and_a_file_that_is_not_settings(tmp_path: Path) -> None:
    assert refused(tmp_path, lambda c: c["dialog"].update(default_language="de")).startswith("dialog.default_language")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load(write(tmp_path, ["not", "a", "mapping"]), environ={})  # type: ignore[arg-type]  # a bad file
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "absent.yaml", environ={})


def test_the_environment_overrides_secrets(tmp_path: Path) -> None:
    environ = {"KONTOR_REDIS_URL": "redis://cache:6379/1", "KONTOR_TWILIO_AUTH_TOKEN": "t0ken"}
    settings = load_with(tmp_path, environ=environ)
    assert settings.redis.url == "redis://cache:6379/1" and settings.twilio.auth_token == "t0ken"


def test_the_local_webhook_secret_is_written_once_and_private(tmp_path: Path) -> None:
    settings = load_with(tmp_path)
    token = webhook_token(settings)
    path = Path(settings.data_dir) / "local_auth_token"
    assert len(token) == 32 and path.read_text() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert webhook_token(settings) == token and [p.name for p in path.parent.iterdir()] == ["local_auth_token"]


def test_racing_first_writers_agree_on_one_secret(tmp_path: Path) -> None:
    settings = load_with(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: webhook_token(settings), range(32)))
    assert len(tokens) == 1 and [p.name for p in (tmp_path / "var").iterdir()] == ["local_auth_token"]


def test_a_secret_left_readable_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    settings = load_with(tmp_path)
    path = Path(settings.data_dir) / "local_auth_token"
    path.parent.mkdir(parents=True)
    path.write_text("abc\n")
    path.chmod(0o644)
    assert webhook_token(settings) == "abc" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_twilio_token_signs_when_there_is_one(tmp_path: Path) -> None:
    settings = load_with(tmp_path, lambda c: c["twilio"].update(auth_token="secret"))
    assert webhook_token(settings) == "secret" and not (tmp_path / "var").exists()


def test_the_rules_come_from_the_settings_by_name(tmp_path: Path) -> None:
    rules = runtime.rules_from(load_with(tmp_path, lambda c: c["documents"].update(require_receipt=True)))
    assert (rules.idle_minutes, rules.default_language, rules.description_max) == (30, "fa", 300)
    assert (rules.usual_factor, rules.hours_per_day, rules.connection_kw, rules.demand_factor) == (3, 24, 25, 1.2)
    assert (rules.require_receipt, rules.require_national_card) == (True, False)


def test_server_threads_default_to_sixteen_and_are_bounded(tmp_path: Path) -> None:
    assert load_with(tmp_path, lambda c: c["server"].pop("threads")).server.threads == 16
    for bad in (0, 33):
        assert refused(tmp_path, lambda c, n=bad: c["server"].update(threads=n)).startswith("server.threads")


def test_the_webhook_is_served_by_threads_unless_one_is_asked_for(tmp_path: Path) -> None:
    from adapters.http import POOL_SIZE, JsonClient
    from sms_gateway.runtime import redis_pool_size
    from sms_gateway.serve import gunicorn_options
    from sms_gateway.settings import MAX_THREADS

    settings = load_with(tmp_path)
    assert gunicorn_options(settings.server)["worker_class"] == "gthread"
    assert gunicorn_options(settings.server)["threads"] == settings.server.threads
    assert gunicorn_options(load_with(tmp_path, lambda c: c["server"].update(threads=1)).server)["worker_class"] == (
        "sync"
    )
    # every thread keeps its own pooled connection to an outside system and to Redis
    adapter = JsonClient("http://127.0.0.1:1", settings.outside_systems).session.get_adapter("http://127.0.0.1:1/")
    assert adapter._pool_maxsize == POOL_SIZE >= MAX_THREADS  # type: ignore[attr-defined]  # requests keeps it private
    biggest = load_with(tmp_path, lambda c: c["server"].update(threads=MAX_THREADS))
    assert redis_pool_size(biggest) >= 2 * MAX_THREADS


def test_a_bad_ussd_address_is_refused_at_start_not_on_each_callback(tmp_path: Path) -> None:
    message = refused(tmp_path, lambda c: c.update(ussd={"token": "t", "allow_from": ["10.0.0.0/33"]}))
    assert "ussd.allow_from" in message and "10.0.0.0/33" in message


def test_the_environment_alone_turns_ussd_on(tmp_path: Path) -> None:
    settings = load_with(tmp_path, lambda c: c.pop("ussd", None), environ={"KONTOR_USSD_TOKEN": "from-env"})
    assert settings.ussd.token == "from-env"
