"""`kontor phone --channel smpp` against real processes: the phone's own loopback SMSC, the real `kontor smpp`
bound to it (started by the phone while the smpp section is off, or by the stack as `kontor up` does when
smpp.host is loopback), `kontor worker` and the sandboxes. Each SMS reaches the phone once, reassembled."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, select

from sms_gateway.phone import watches_outbox
from sms_gateway.procs import kontor_argv
from sms_gateway.settings import load
from sms_gateway.smpp.phone_line import SmppLine, open_line
from sms_gateway.smpp.phone_smsc import Mt
from storage.models import OutboundMessage
from tests.e2e.test_conversation import CAT, DEMO, tracking_in
from tests.support.stack import DATABASES, POSTGRES, Stack, free_port, reset_database, write_config

PHONE, ANSWERS, READINGS = DEMO["single"]
TRACKING_START = CAT.text("tracking_sms", "fa", tracking="")[:20]


class Screen:
    """What the phone shows: every SMS to it, in order (the phone's on_sms)."""

    def __init__(self) -> None:
        self.seen: list[Mt] = []
        self.lock = threading.Lock()

    def __call__(self, mt: Mt) -> None:
        with self.lock:
            self.seen.append(mt)

    def texts(self) -> list[str]:
        with self.lock:
            return [m.text for m in self.seen]

    def wait(self, start: int, expect: str, timeout: float = 30) -> Mt:
        """The first SMS from index `start` on that contains `expect`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [m for m in self.seen[start:] if expect in m.text]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no SMS with {expect!r}; the phone shows {self.texts()}")


def say(line: SmppLine, screen: Screen, text: str, expect: str = "") -> Mt:
    """Type a line on the phone; the first new SMS (containing `expect`) it shows."""
    before = len(screen.texts())
    line.send(PHONE, text)
    return screen.wait(before, expect)


def converse(line: SmppLine, screen: Screen) -> None:
    """The demo subscriber to the confirm: the Persian summary arrives whole, from UCS2 parts."""
    assert "شناسه قبض" in say(line, screen, "قرائت").text
    for answer in ANSWERS:
        last = say(line, screen, answer)
    assert all(value in last.text for value in READINGS.values()), screen.texts()
    assert last.parts >= 2 and last.text.startswith("قبض"), last
    say(line, screen, "1", "ثبت شد")


@contextmanager
def running(
    folder: Path, redis_server: str, database: str, roles: tuple[str, ...], **overrides: object
) -> Iterator[Path]:
    """A stack of these roles on a fresh Redis and database; stopped on the way out."""
    redis.Redis.from_url(redis_server).flushall()
    if database == "postgresql":
        reset_database(POSTGRES)
    database_url = POSTGRES if database == "postgresql" else f"sqlite:///{folder / 'kontor.db'}"
    config = write_config(folder, redis_server, database_url, None, free_port(), **overrides)
    stack = Stack(config, 0, "")
    try:
        stack.start(*roles)
        yield config
    finally:
        stack.stop()


def outbox_bodies(config: Path) -> list[str]:
    engine = create_engine(load(config).database_url)
    try:
        with engine.connect() as db:
            return list(db.scalars(select(OutboundMessage.body).where(OutboundMessage.to == PHONE)))
    finally:
        engine.dispose()


def closed(port: int, timeout: float = 5) -> bool:
    """Nothing listens on the port any more (waiting a little for the listener to go)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
        except OSError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("database", DATABASES)
def test_the_phone_binds_its_own_kontor_smpp(redis_server: str, tmp_path: Path, database: str) -> None:
    """smpp section off (the default config), outbound.gateway outbox: the phone starts and stops `kontor smpp`;
    replies come as submit_sm, the tracking SMS from the outbox, never both."""
    with running(tmp_path, redis_server, database, ("sandbox", "worker")) as config:
        settings = load(config)
        assert settings.smpp is not None and not settings.smpp.enabled and settings.outbound.gateway == "outbox"
        screen = Screen()
        line = open_line(settings, screen, say=lambda _: None)
        assert line.runner is not None and line.config is not None
        child, port = line.runner.procs["phone-smpp"], line.smsc.port
        try:
            converse(line, screen)
            deadline = time.monotonic() + 30
            while not any(b.startswith(TRACKING_START) for b in outbox_bodies(config)) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert any(b.startswith(TRACKING_START) for b in outbox_bodies(config)), outbox_bodies(config)
            assert watches_outbox(settings, "smpp")  # so the phone prints it, once: it never comes as submit_sm
            time.sleep(1)
            assert not any(t.startswith(TRACKING_START) for t in screen.texts())
        finally:
            line.close()
        assert child.poll() is not None and not line.config.exists() and closed(port)


@pytest.mark.parametrize("database", DATABASES)
def test_kontor_up_s_smpp_binds_to_the_phone(redis_server: str, tmp_path: Path, database: str) -> None:
    """smpp.host loopback and outbound.gateway smpp: the stack's `kontor smpp` binds to the phone listening
    there; the tracking SMS arrives once as submit_sm (the outbox is not watched) and the receipt marks it."""
    port = free_port()
    account = {
        "smpp__host": "127.0.0.1",
        "smpp__port": port,
        "smpp__system_id": "kontor",
        "smpp__password": "secret",
        "smpp__source_addr": "3000",
        "smpp__reconnect_max_seconds": 1,
        "outbound__gateway": "smpp",
    }
    with running(tmp_path, redis_server, database, ("sandbox", "worker", "smpp"), **account) as config:
        settings = load(config)
        screen = Screen()
        line = open_line(settings, screen, say=lambda _: None)
        assert line.runner is None and line.smsc.port == port
        try:
            converse(line, screen)
            tracking_sms = screen.wait(0, TRACKING_START, 40)
            tracking = tracking_in(tracking_sms.text)
            assert tracking_sms.text == CAT.text("tracking_sms", "fa", tracking=tracking)
            assert not watches_outbox(settings, "smpp")
            _wait_delivered(config, tracking)
            assert screen.texts().count(tracking_sms.text) == 1
        finally:
            line.close()
        assert closed(port)


def _wait_delivered(config: Path, tracking: str, timeout: float = 20) -> None:
    """The phone's receipt reached SQL: the tracking SMS's row is delivered, under the phone's SMSC id."""
    engine = create_engine(load(config).database_url)
    deadline, row = time.monotonic() + timeout, None
    try:
        while time.monotonic() < deadline:
            with engine.connect() as db:
                query = select(OutboundMessage.provider_id, OutboundMessage.delivery_status)
                row = db.execute(query.where(OutboundMessage.body.contains(tracking))).first()
            if row is not None and row.delivery_status == "delivered":
                assert row.provider_id.startswith("phone")
                return
            time.sleep(0.2)
        raise AssertionError(f"the tracking SMS of {tracking} was not marked delivered: {row}")
    finally:
        engine.dispose()


class Terminal:
    """`kontor phone` as a newcomer runs it: lines typed on its stdin, what it prints read from its stdout."""

    def __init__(self, config: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        argv = kontor_argv("phone", config, *args)
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
        )
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in iter(lambda: self.proc.stdout.read(1) if self.proc.stdout else "", ""):
            self.out.append(text)

    @property
    def shown(self) -> str:
        return "".join(self.out)

    def wait(self, expect: str, start: int = 0, timeout: float = 40) -> int:
        """Where `expect` shows from `start` on, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = self.shown.find(expect, start)
            if at >= 0:
                return at
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the phone did not show {expect!r}:\n{self.shown}")

    def type(self, text: str, expect: str = "📩 SMS: ") -> int:
        assert self.proc.stdin is not None
        start = len(self.shown)
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.wait(expect, start)

    def quit(self) -> int:
        """Ctrl-D; the exit code."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@pytest.mark.parametrize(
    "gateway, roles",
    [("outbox", ("sandbox", "worker")), ("smpp", ("sandbox", "worker", "smpp"))],
    ids=["own-bind-outbox", "up-bind-smpp-gateway"],
)
def test_kontor_phone_channel_smpp_shows_each_sms_once(
    redis_server: str, tmp_path: Path, gateway: str, roles: tuple[str, ...]
) -> None:
    """The command itself, both ways a bind comes: the whole conversation, the tracking SMS shown exactly once,
    Ctrl-D stops what the phone started."""
    account = {"smpp__host": "127.0.0.1", "smpp__port": free_port(), "smpp__password": "secret"}
    overrides = {
        "outbound__gateway": gateway,
        "smpp__reconnect_max_seconds": 1,
        **(account if gateway == "smpp" else {}),
    }
    with running(tmp_path, redis_server, "sqlite", roles, **overrides) as config:
        phone = Terminal(config, "--from", "09121234567", "--channel", "smpp")
        try:
            started = phone.wait("Ctrl-D to quit")
            port = int(re.findall(r"bound to 127\.0\.0\.1:(\d+)", phone.shown[:started])[0])
            phone.type("قرائت", "شناسه قبض")
            for answer in ANSWERS:
                phone.type(answer)
            phone.type("1", "ثبت شد")
            at = phone.wait("📩 SMS: " + TRACKING_START)
            tracking = tracking_in(phone.shown[at:])
            tracking_line = "📩 SMS: " + CAT.text("tracking_sms", "fa", tracking=tracking) + "\n"
            phone.wait(tracking, at + len(tracking_line))  # the outcome SMS: the worker is done with it
            time.sleep(2)  # a second copy (the outbox watcher and submit_sm both) would show by now
            assert phone.shown.count(tracking_line) == 1, phone.shown
        finally:
            code = phone.quit()
        assert code == 0, phone.shown
        assert not (tmp_path / "var" / "phone-smpp.yaml").exists() and closed(port)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["term", "hup", "ctrl-c"])
def test_a_stopped_phone_stops_its_kontor_smpp(redis_server: str, tmp_path: Path, signum: int) -> None:
    """SIGTERM, a closed terminal's SIGHUP or Ctrl-C ends the phone as Ctrl-D does: its `kontor smpp` unbinds."""
    with running(tmp_path, redis_server, "sqlite", ("sandbox",)) as config:
        phone = Terminal(config, "--from", "09121234567", "--channel", "smpp")
        try:
            started = phone.wait("Ctrl-D to quit")
            port = int(re.findall(r"bound to 127\.0\.0\.1:(\d+)", phone.shown[:started])[0])
            phone.proc.send_signal(signum)
            assert phone.proc.wait(30) in (128 + signum, -signum)  # Python ends on an unhandled Ctrl-C by SIGINT
        finally:
            phone.quit()
        log = (tmp_path / "var" / "phone-smpp.log").read_text(encoding="utf-8")
        # the phone stops its child with SIGTERM; smpp34's server ends the session on unbind before its unbind_resp
        # leaves ("unbind not answered"), then the child disconnects
        assert "signal 15: unbinding" in log and "Disconnecting" in log and closed(port), log
        assert not (tmp_path / "var" / "phone-smpp.yaml").exists()
