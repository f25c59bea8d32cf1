"""Fault-suite helpers over real processes: a restartable redis-server, a slow-able Twilio stand-in, counting."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

from sms_gateway import embedded_redis
from tests.support.twilio_standin import TwilioStandIn

TRACKING = re.compile(r"\d{12}")


class SlowTwilio(TwilioStandIn):
    """The stand-in with a delay before each answer, so a worker can be killed while it is sending."""

    delay: float = 0.0
    inflight: int = 0

    # the parent's _app is a WSGI app made by Request.application; this wraps it at the WSGI level, untyped
    def _app(self, environ, start_response):  # type: ignore[no-untyped-def, override]
        self.inflight += 1
        try:
            time.sleep(self.delay)
            return TwilioStandIn._app(self, environ, start_response)
        finally:
            self.inflight -= 1


@dataclass
class RedisProc:
    """A redis-server with the append-only file, on a short unix socket, that a fault may stop and restart."""

    folder: Path
    socket: Path
    proc: object = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> RedisProc:
        self.proc = embedded_redis.start(self.folder, self.socket)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            embedded_redis.stop(self.proc)  # SIGTERM: the append-only file is flushed
            self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@dataclass
class Ledger:
    """What the database and the stand-in say happened to each phone's confirmed requests."""

    database_url: str
    twilio: TwilioStandIn
    engine: object = None

    def __post_init__(self) -> None:
        self.engine = create_engine(self.database_url)

    def stored(self, phones: list[str]) -> list[tuple[str, str]]:
        """(mobile, tracking number) of every stored request of these phones."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT mobile, tracking_number FROM requests")).all()
        return [(m, t) for m, t in rows if m in phones]

    def tracking_sms(self, phones: list[str]) -> list[str]:
        """Tracking numbers in the tracking SMS the stand-in received for these phones."""
        with self.twilio.lock:
            bodies = [m["Body"] for m in self.twilio.messages if m["To"] in phones]
        return [TRACKING.search(b).group(0) for b in bodies if "رهگیری" in b or "Tracking" in b]

    def pending(self) -> int:
        with self.engine.connect() as conn:
            query = "SELECT count(*) FROM outbound_messages WHERE status IN ('pending', 'sending', 'uncertain')"
            return conn.execute(text(query)).scalar()

    def outbound_status(self, phones: list[str]) -> dict[str, str]:
        """event key -> status of the owed tracking SMS of these phones."""
        with self.engine.connect() as conn:
            rows = conn.execute(text('SELECT event_key, status, "to" FROM outbound_messages')).all()
        return {k: s for k, s, to in rows if to in phones and k.startswith("tracking:")}


@dataclass
class Row:
    fault: str
    trials: int
    confirmed: int = 0
    stored: int = 0
    sms: int = 0
    duplicates: int = 0
    lost: int = 0
    note: str = ""

    def cells(self) -> list[str]:
        return [
            self.fault,
            str(self.trials),
            str(self.confirmed),
            str(self.stored),
            str(self.sms),
            str(self.duplicates),
            str(self.lost),
            self.note,
        ]


def tally(row: Row, ledger: Ledger, phones: list[str], confirmed: int) -> Row:
    """Fill the row: a confirmed request is lost when not stored, or when its SMS is neither sent nor closed."""
    stored, sms = ledger.stored(phones), ledger.tracking_sms(phones)
    statuses = ledger.outbound_status(phones)
    closed = sum(1 for s in statuses.values() if s in ("failed", "suppressed"))
    numbers = [t for _, t in stored]
    row.confirmed, row.stored, row.sms = confirmed, len(stored), len(sms)
    row.duplicates = (len(numbers) - len(set(numbers))) + (len(sms) - len(set(sms))) + max(0, len(stored) - confirmed)
    delivered = len(set(sms) & set(numbers))
    row.lost = max(0, confirmed - len(stored)) + max(0, len(stored) - delivered - closed)
    return row


def table(rows: list[Row]) -> str:
    head = ["fault", "trials", "confirmed", "stored", "SMS sent", "duplicates", "lost", "note"]
    grid = [head] + [r.cells() for r in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in grid]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_threads(targets: list[Callable[[], None]], timeout: float = 30) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)


def outcome_sms(twilio: TwilioStandIn, phones: list[str]) -> dict[str, int]:
    """phone -> how many SMS it received that are not tracking SMS (the identity/bill outcome)."""
    with twilio.lock:
        bodies = [(m["To"], m["Body"]) for m in twilio.messages if m["To"] in phones]
    counts = dict.fromkeys(phones, 0)
    for to, body in bodies:
        if not ("رهگیری" in body or "Tracking" in body):
            counts[to] += 1
    return counts


def statuses(ledger: Ledger, phones: list[str]) -> list[str]:
    """The status of every stored request of these phones (received = the follow-up has not finished)."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(text("SELECT mobile, status FROM requests")).all()
    return [s for m, s in rows if m in phones]


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent  # the real bin folder, not a symlink's
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)]
    )
    return versions[-1] if versions and (versions[-1] / "pg_ctl").exists() else None


@dataclass
class PostgresProc:
    """A private PostgreSQL cluster on a unix socket only (no TCP), that a fault may stop and start.

    A stopped PostgreSQL is a database that is really down: pooled connections break, new ones are refused.
    As root the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
    """

    folder: Path
    bin: Path | None = None

    @classmethod
    def available(cls) -> str:
        """ "" when a cluster can be started here, else why not."""
        try:
            import psycopg2  # noqa: F401 - only whether it imports
        except ImportError:
            return "psycopg2 is not installed"
        if _pg_bin() is None:
            return "no PostgreSQL binaries (pg_ctl, initdb)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no postgres user"
            if not shutil.which("runuser"):
                return "running as root and runuser is missing"
        return ""

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@/kontor?host={self.folder}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            prefix + [str(self.bin / args[0]), *args[1:]], check=True, capture_output=True, timeout=timeout, cwd="/"
        )

    def init(self) -> PostgresProc:
        self.bin = _pg_bin()
        self.folder.mkdir(mode=0o700)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()
        self._run("createdb", "-h", str(self.folder), "-U", "postgres", "kontor")
        return self

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-o",
            f"-k {self.folder} -c listen_addresses='' -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        """Fast shutdown: every open connection is cut at once."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        if self.bin is not None and (self.folder / "data" / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
