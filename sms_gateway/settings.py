"""Kontor's one typed settings object, read once from config.yaml; the only place that reads configuration."""
from __future__ import annotations

import dataclasses
import os
import secrets
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(Exception):
    """A setting is missing, unknown or of the wrong type: Kontor refuses to start."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    public_url: str
    workers: int


@dataclass(frozen=True)
class RedisSettings:
    url: str


@dataclass(frozen=True)
class Database:
    url: str


@dataclass(frozen=True)
class Twilio:
    account_sid: str
    auth_token: str
    from_number: str
    api_base_url: str


@dataclass(frozen=True)
class Dialog:
    idle_minutes: int
    default_language: str
    lock_seconds: int


@dataclass(frozen=True)
class Worker:
    queue: str
    retry_intervals: list[int]


@dataclass(frozen=True)
class Endpoint:
    url: str


@dataclass(frozen=True)
class OutsideSystems:
    timeout_seconds: float
    retries: int
    breaker_failures: int
    breaker_reset_seconds: float


@dataclass(frozen=True)
class Sandbox:
    host: str
    port: int
    latency_ms: int
    failure_rate: float


@dataclass(frozen=True)
class Readings:
    usual_factor: float
    hours_per_day: float
    connection_kw: float
    demand_factor: float
    description_max: int


@dataclass(frozen=True)
class Documents:
    require_national_card: bool
    require_receipt: bool
    folder: str
    max_bytes: int
    types: list[str]


@dataclass(frozen=True)
class Tariff:
    residential_tiers: list[list[int]]
    time_of_use: dict[str, float]
    industrial_rial_per_kwh: float
    demand_rial_per_kw_month: float
    reactive_rial_per_kvarh: float
    vat: float


@dataclass(frozen=True)
class Limits:
    per_phone_per_minute: int
    global_per_second: int
    inquire_per_hour: int


@dataclass(frozen=True)
class Outbound:
    per_sender_per_second: float


@dataclass(frozen=True)
class Smpp:
    """An SMPP account with an operator or aggregator (`kontor smpp`); off while host or password is empty."""
    host: str
    port: int
    system_id: str
    password: str
    system_type: str
    source_addr: str              # our number or short code, the source of every submit_sm
    source_ton: int
    source_npi: int
    dest_ton: int
    dest_npi: int
    window: int                   # submit_sm awaiting their submit_sm_resp at once
    per_second: float             # the account's submit rate
    enquire_link_seconds: float   # keep-alive when the link is idle
    response_seconds: float       # a request unanswered this long means the link is dead
    reconnect_max_seconds: float  # the reconnect backoff doubles up to this
    send_wait_seconds: float      # how long a worker waits for the SMSC to accept its SMS

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.password)


@dataclass(frozen=True)
class Settings:
    data_dir: str
    server: Server
    redis: RedisSettings
    database: Database
    twilio: Twilio
    dialog: Dialog
    worker: Worker
    subscriber_system: Endpoint
    civil_registry: Endpoint
    mobile_ownership: Endpoint
    outside_systems: OutsideSystems
    sandbox: Sandbox
    readings: Readings
    documents: Documents
    tariff: Tariff
    limits: Limits
    outbound: Outbound
    smpp: Smpp | None = None      # optional section: absent = the SMPP channel is off
    source: str = field(default="", compare=False)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def redis_socket(self) -> Path:
        return self.data_path / "redis.sock"

    @property
    def redis_url(self) -> str:
        return self.redis.url or f"unix://{self.redis_socket.resolve()}"

    @property
    def embedded_redis(self) -> bool:
        return not self.redis.url

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.data_path / 'kontor.db').resolve()}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.sandbox.host}:{self.sandbox.port}"

    def endpoint(self, name: str) -> str:
        """The base URL of an outside system: its own, or the local sandbox's."""
        return getattr(self, name).url.rstrip("/") or f"{self.sandbox_url}/{name.replace('_', '-')}"

    @property
    def uses_sandbox(self) -> bool:
        return not all(getattr(self, n).url for n in ("subscriber_system", "civil_registry", "mobile_ownership"))

    @property
    def media_path(self) -> Path:
        return self.data_path / self.documents.folder

    @property
    def outbound_via_twilio(self) -> bool:
        return bool(self.twilio.account_sid and self.twilio.auth_token)

    @property
    def webhook_token(self) -> str:
        """The secret that signs webhooks: Twilio's auth token, or a local one made once."""
        if self.twilio.auth_token:
            return self.twilio.auth_token
        path = self.data_path / "local_auth_token"
        if not path.exists():
            self.data_path.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}")
            tmp.write_text(secrets.token_hex(16))
            os.replace(tmp, path) if not path.exists() else tmp.unlink()
        return path.read_text().strip()


ENV_OVERRIDES = {
    "KONTOR_REDIS_URL": ("redis", "url"),
    "KONTOR_DATABASE_URL": ("database", "url"),
    "KONTOR_TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "KONTOR_TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "KONTOR_TWILIO_API_BASE_URL": ("twilio", "api_base_url"),
    "KONTOR_SMPP_PASSWORD": ("smpp", "password"),
}
OPTIONAL_SECTIONS = {"smpp": Smpp}   # a channel's section may be left out: the channel is then off


def _check_type(value: object, kind: object, where: str) -> object:
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(kind) is dict and isinstance(value, dict):
        _, inner = typing.get_args(kind)
        return {str(k): _check_type(v, inner, f"{where}.{k}") for k, v in value.items()}
    if kind is str and isinstance(value, str):
        return value
    if kind is str and value is None:
        return ""
    if typing.get_origin(kind) is list and isinstance(value, list):
        (inner,) = typing.get_args(kind)
        return [_check_type(v, inner, f"{where}[]") for v in value]
    raise ConfigError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}")


def _build(cls: type, raw: object, where: str) -> object:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping")
    hints = typing.get_type_hints(cls)
    wanted = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(raw) - wanted)
    missing = sorted(wanted - set(raw) - (set(OPTIONAL_SECTIONS) if cls is Settings else set()))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(where + k for k in unknown)}")
    if missing:
        raise ConfigError(f"missing setting(s): {', '.join(where + k for k in missing)}")
    values = {}
    for name in wanted:
        kind = OPTIONAL_SECTIONS.get(name, hints[name]) if cls is Settings else hints[name]
        if name not in raw:
            continue
        if dataclasses.is_dataclass(kind):
            values[name] = _build(kind, raw[name], f"{where}{name}.")
        else:
            values[name] = _check_type(raw[name], kind, where + name)
    return cls(**values)


def config_path(explicit: str | None = None) -> Path:
    """--config wins, then KONTOR_CONFIG, then ./config.yaml."""
    return Path(explicit or os.environ.get("KONTOR_CONFIG") or "config.yaml")


def load(path: str | Path | None = None, environ: typing.Mapping[str, str] | None = None) -> Settings:
    """Read, check and resolve the settings; data_dir is relative to the file."""
    path = config_path(str(path) if path else None)
    env = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if isinstance(raw, dict):
        for var, (section, key) in ENV_OVERRIDES.items():
            if env.get(var) and isinstance(raw.get(section), dict):
                raw[section][key] = env[var]
    settings = _build(Settings, raw, "")
    data_dir = Path(settings.data_dir)
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()
    if settings.dialog.default_language not in ("fa", "en"):
        raise ConfigError("dialog.default_language: must be fa or en")
    return dataclasses.replace(settings, data_dir=str(data_dir), source=str(path.resolve()))
