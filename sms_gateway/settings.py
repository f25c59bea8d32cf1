"""Kontor's one typed settings object, read once from config.yaml; the only place that reads configuration."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import typing
from dataclasses import dataclass, field
from pathlib import Path

import dacite
import yaml


class ConfigError(Exception):
    """A setting is missing, unknown or of the wrong type: Kontor refuses to start."""


MAX_THREADS = 32  # server.threads' bound: the HTTP clients keep this many connections per host (adapters/http.py)


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    public_url: str
    workers: int
    threads: int = 16  # per worker (gunicorn gthread): a request waiting on an outside system holds a thread

    def __post_init__(self) -> None:
        if not 1 <= self.threads <= MAX_THREADS:
            raise ConfigError(f"server.threads: must be 1..{MAX_THREADS}, got {self.threads}")


@dataclass(frozen=True)
class SentinelSettings:
    """Redis Sentinel beyond one machine: the Sentinels' addresses and the primary's name; no hosts = no Sentinel."""

    hosts: list[str] = field(default_factory=list)  # "host:port" of each Sentinel (three, on three hosts)
    master: str = "kontor"  # the name the Sentinels monitor the primary under
    password: str = ""  # the Sentinels' own AUTH password ("" = none; or KONTOR_REDIS_SENTINEL_PASSWORD)

    def __post_init__(self) -> None:
        for host in self.hosts:
            name, _, port = host.rpartition(":")
            if not name or not port.isdigit():
                raise ConfigError(f"redis.sentinel.hosts: expected host:port, got {host!r}")
        if self.hosts and not self.master:
            raise ConfigError("redis.sentinel.master: required with redis.sentinel.hosts")

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(host.rpartition(":")[0].strip("[]"), int(host.rpartition(":")[2])) for host in self.hosts]


@dataclass(frozen=True)
class RedisSettings:
    url: str  # with Sentinel: only its password and db number are used (the primary is the Sentinels' answer)
    sentinel: SentinelSettings = field(default_factory=SentinelSettings)

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinel.hosts)


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
class Kavenegar:
    """Kavenegar's HTTP API (an Iranian SMS provider): optional; the channel is off while a secret is empty."""

    api_key: str = ""  # the panel's API key: the outbound sender needs it (or KONTOR_KAVENEGAR_API_KEY)
    sender: str = ""  # the sender line messages go out from (e.g. 10004346)
    api_base_url: str = "https://api.kavenegar.com"  # tests point it at a local stand-in
    webhook_token: str = ""  # the secret path part of the inbound URLs (or KONTOR_KAVENEGAR_WEBHOOK_TOKEN)

    @property
    def inbound_on(self) -> bool:
        """The inbound and delivery webhooks listen only with a secret to guard them."""
        return bool(self.webhook_token)


@dataclass(frozen=True)
class Dialog:
    idle_minutes: int
    default_language: str
    lock_seconds: int


@dataclass(frozen=True)
class Worker:
    queue: str
    retry_intervals: list[int]
    stranded_after_seconds: float = 60.0  # an owed SMS untouched this long, with no job, is queued again by the sweep
    batch_size: int = 50  # confirmed requests a batch job stores in one transaction (sms_gateway/batches.py)
    followup_concurrency: int = 16  # follow-ups of a batch worked on at once (each waits on outside systems)


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
    """The local stand-in for the outside systems; optional, like its fault-injection keys."""

    host: str = "127.0.0.1"
    port: int = 8090
    latency_ms: int = 0  # fault injection: added to every answer
    failure_rate: float = 0.0  # fault injection: share of answers that are 503


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
    """The sandbox's illustrative tariff (the real bill comes from the real system): needed only by the sandbox."""

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
    gateway: str  # the outbound SMS adapter: a name in adapters.senders.GATEWAYS (outbox, twilio, kavenegar)
    concurrency: int = 48  # a batch's SMS in flight at once (each still under per_sender_per_second)

    def __post_init__(self) -> None:
        from adapters.senders import GATEWAYS

        if self.gateway not in GATEWAYS:
            raise ConfigError(f"outbound.gateway: must be one of {', '.join(GATEWAYS)}, got {self.gateway!r}")


@dataclass(frozen=True)
class Smpp:
    """An SMPP account with an operator or aggregator (`kontor smpp`); off while host or password is empty."""

    host: str
    port: int
    system_id: str
    password: str
    system_type: str
    source_addr: str  # our number or short code, the source of every submit_sm
    source_ton: int
    source_npi: int
    dest_ton: int
    dest_npi: int
    window: int  # submit_sm awaiting their submit_sm_resp at once
    per_second: float  # the account's submit rate
    enquire_link_seconds: float  # keep-alive when the link is idle
    response_seconds: float  # a request unanswered this long means the link is dead
    reconnect_max_seconds: float  # the reconnect backoff doubles up to this
    send_wait_seconds: float  # how long a worker waits for the SMSC to accept its SMS

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.password)


@dataclass(frozen=True)
class Desk:
    """The utility's desk: its own address, the URL people use (https = Secure cookies), the cookie secret."""

    host: str = "127.0.0.1"
    port: int = 8070
    public_url: str = ""
    secret_key: str = ""  # "" = KONTOR_DESK_SECRET_KEY, else a random one kept in data_dir (mode 0600)


@dataclass(frozen=True)
class Metrics:
    """Where `kontor metrics` serves Prometheus' /metrics: an operator's address, never the public webhook's."""

    host: str = "127.0.0.1"
    port: int = 9108


@dataclass(frozen=True)
class Ussd:
    """The USSD channel (Africa's Talking callbacks): off while the token is empty (KONTOR_USSD_TOKEN may give it)."""

    token: str = ""  # the secret in the callback URL /ussd/africastalking/<token>
    allow_from: list[str] = field(default_factory=list)  # the aggregator's addresses or networks; empty = any
    answer_seconds: float = 8.0  # a screen not ready by then is a "try again" END (aggregators give up near 15 s)

    def __post_init__(self) -> None:
        for net in self.allow_from:  # refused at start, not on every callback
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ConfigError(f"ussd.allow_from: {net!r} is not an address or network ({exc})") from exc


@dataclass(frozen=True, kw_only=True)
class Settings:
    data_dir: str
    server: Server
    redis: RedisSettings
    database: Database
    twilio: Twilio
    kavenegar: Kavenegar | None = None
    dialog: Dialog
    worker: Worker
    subscriber_system: Endpoint
    civil_registry: Endpoint
    mobile_ownership: Endpoint
    outside_systems: OutsideSystems
    sandbox: Sandbox = field(default_factory=Sandbox)
    readings: Readings
    documents: Documents
    tariff: Tariff | None = None
    limits: Limits
    outbound: Outbound
    desk: Desk = field(default_factory=Desk)
    metrics: Metrics = field(default_factory=Metrics)
    ussd: Ussd = field(default_factory=Ussd)
    smpp: Smpp | None = None  # optional section: absent = the SMPP channel is off
    source: str = field(default="", compare=False, metadata={"internal": True})  # the file, set by load()

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
        return not self.redis.url and not self.redis.uses_sentinel

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


ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "KONTOR_REDIS_URL": ("redis", "url"),
    "KONTOR_REDIS_SENTINEL_PASSWORD": ("redis", "sentinel", "password"),
    "KONTOR_DATABASE_URL": ("database", "url"),
    "KONTOR_TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "KONTOR_TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "KONTOR_TWILIO_API_BASE_URL": ("twilio", "api_base_url"),
    "KONTOR_KAVENEGAR_API_KEY": ("kavenegar", "api_key"),
    "KONTOR_KAVENEGAR_WEBHOOK_TOKEN": ("kavenegar", "webhook_token"),
    "KONTOR_USSD_TOKEN": ("ussd", "token"),
    "KONTOR_SMPP_PASSWORD": ("smpp", "password"),
}


_MADE_FROM_ENV = ("ussd",)  # top-level sections whose every key has a default: the environment alone may turn them on


class _Refused:
    """A YAML value no hook may pass on (a bool where a number is wanted): dacite then names the key."""

    def __init__(self, value: object) -> None:
        self.value = value


def _number(kind: type) -> typing.Callable[[object], object]:
    """int and float settings refuse bools (YAML true is not 1); a float setting takes a YAML int."""

    def hook(value: object) -> object:
        if isinstance(value, bool):
            return _Refused(value)
        return float(value) if kind is float and isinstance(value, int) else value

    return hook


LOADER = dacite.Config(
    strict=True,
    type_hooks={int: _number(int), float: _number(float), str: lambda value: "" if value is None else value},
)


def _unknown(cls: type, raw: typing.Mapping[str, object], where: str = "") -> list[str]:
    """Dotted names of the keys no dataclass field takes (dacite's own error does not say where)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    found: list[str] = []
    for key, value in raw.items():
        kind = typing.get_args(hints.get(key)) or (hints.get(key),)  # a section that may be None: its class
        if key not in fields:
            found.append(f"{where}{key}")
        elif dataclasses.is_dataclass(kind[0]) and isinstance(value, dict):
            found += _unknown(typing.cast(type, kind[0]), value, f"{where}{key}.")
    return found


def _override(raw: dict[str, object], where: tuple[str, ...], value: str) -> None:
    """Set a nested key from the environment, making an absent optional section (redis.sentinel) on the way."""
    section: object = raw
    for depth, name in enumerate(where[:-1]):
        if not isinstance(section, dict):
            return
        if section.get(name) is None and (depth or name in _MADE_FROM_ENV):
            section[name] = {}
        section = section.get(name)
    if isinstance(section, dict):
        section[where[-1]] = value


def _typed(raw: object) -> Settings:
    """Typed settings from the parsed YAML; any fault is a ConfigError naming the dotted key."""
    if not isinstance(raw, dict):
        raise ConfigError("config: expected a mapping")
    unknown = _unknown(Settings, raw)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    try:
        return dacite.from_dict(Settings, raw, config=LOADER)
    except dacite.MissingValueError as exc:
        raise ConfigError(f"missing setting(s): {exc.field_path}") from None
    except dacite.WrongTypeError as exc:
        kind, value = getattr(exc.field_type, "__name__", exc.field_type), getattr(exc.value, "value", exc.value)
        raise ConfigError(f"{exc.field_path}: expected {kind}, got {value!r}") from None
    except dacite.DaciteError as exc:
        raise ConfigError(f"config: {exc}") from None


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
        for var, where in ENV_OVERRIDES.items():
            if env.get(var):
                _override(raw, where, env[var])
    settings = _typed(raw)
    data_dir = Path(settings.data_dir)
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()
    if settings.dialog.default_language not in ("fa", "en"):
        raise ConfigError("dialog.default_language: must be fa or en")
    if settings.uses_sandbox and settings.tariff is None:
        raise ConfigError('tariff: required while the sandbox stands in for an outside system (a url is "")')
    return dataclasses.replace(settings, data_dir=str(data_dir), source=str(path.resolve()))


def webhook_token(settings: Settings) -> str:
    """The secret that signs webhooks: Twilio's auth token, or a local one kept in data_dir."""
    return settings.twilio.auth_token or local_secret(settings.data_path / "local_auth_token")


def local_secret(path: Path, nbytes: int = 16) -> str:
    """The secret in `path`, made once: mode 0600 from its first byte, and the first of racing writers wins."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")  # one per writer, thread or process
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(nbytes))
        try:
            os.link(tmp, path)  # never replaces: a secret another process already uses stays
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:  # written readable by an older Kontor: make it private
        path.chmod(0o600)
    return path.read_text().strip()
