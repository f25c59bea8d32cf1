"""`kontor`: web, worker, up (all in one, local), phone (a terminal phone), migrate, requests export, jobs."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sms_gateway.settings import ConfigError, Settings, config_path, load

# The long-running roles: each writes its Prometheus counters into the instance's metrics folder.
PROCESS_ROLES = frozenset({"web", "worker", "desk", "smpp", "metrics", "up"})


def _settings(args: argparse.Namespace) -> Settings:
    path = config_path(args.config)
    os.environ["KONTOR_CONFIG"] = str(path.resolve())
    return load(path)


def metrics_dir(settings: Settings) -> Path:
    """Point prometheus_client's multiprocess mode at data_dir/metrics; it reads the variable once, at import,
    so this runs before any command imports it."""
    if "prometheus_client.values" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess folder was set")
    folder = metrics_dir_path(settings)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder.resolve())
    return folder


def empty_metrics(settings: Settings) -> None:
    """A new run of the instance starts its counts from zero (prometheus_client's rule between runs)."""
    for stale in metrics_dir_path(settings).glob("*.db"):
        stale.unlink()


def metrics_dir_path(settings: Settings) -> Path:
    return settings.data_path / "metrics"


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage.db import upgrade

    upgrade(_settings(args).database_url)
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from sms_gateway.serve import KontorWeb
    from storage.db import upgrade

    settings = _settings(args)
    if not args.no_migrate:
        upgrade(settings.database_url)
    KontorWeb(settings).run()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from sms_gateway import bootstrap, runtime, worker
    from storage.db import upgrade

    settings = _settings(args)
    if not args.no_migrate:
        upgrade(settings.database_url)
    worker.run(bootstrap.install(runtime.build(settings)), burst=args.burst)  # every job uses these services
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from adapters.sandbox import serve

    serve(_settings(args))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Embedded Redis, migrations, web, worker and the desk; Ctrl-C or SIGTERM stops them all."""
    from sms_gateway import channels, embedded_redis
    from sms_gateway.desk.serve import desk_url
    from storage.db import upgrade

    settings = _settings(args)
    try:
        lock = embedded_redis.claim(settings.data_path)
    except embedded_redis.AlreadyRunning as exc:
        print(f"kontor up: {exc}", file=sys.stderr)
        return 2
    empty_metrics(settings)  # under the instance's lock: never another running instance's counts
    redis_proc = None
    if settings.embedded_redis:
        redis_proc = embedded_redis.start(settings.data_path, settings.redis_socket)
    children: list[subprocess.Popen[bytes]] = []
    try:
        upgrade(settings.database_url)
        base = [sys.executable, "-m", "sms_gateway.cli"]
        roles = (["sandbox"] if settings.uses_sandbox else []) + ["web", "worker", "desk", "metrics"]
        roles += ["smpp"] if settings.smpp is not None and settings.smpp.enabled else []  # the SMPP channel's bind
        for role in roles:
            # own sessions: a Ctrl-C reaches only `up`, which then stops web and worker before Redis
            extra = [] if role == "sandbox" else ["--no-migrate"]
            children.append(
                subprocess.Popen(base + [role, "--config", settings.source] + extra, start_new_session=True)
            )
            if role == "sandbox":
                _wait_for_sandbox(settings)
        webhooks = ", ".join(channels.webhook_urls(f"http://{settings.server.host}:{settings.server.port}", settings))
        print(
            f"Kontor is up: webhook {webhooks} — try: kontor phone --from +989121234567 --config {settings.source}",
            flush=True,
        )
        print(f"The utility's desk: {desk_url(settings)}", flush=True)
        _wait(children)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_proc is not None:
            embedded_redis.stop(redis_proc)
        lock.close()
    return 0


def _wait_for_sandbox(settings: Settings) -> None:
    from adapters.sandbox import wait_until_up

    if not wait_until_up(settings.sandbox.host, settings.sandbox.port):
        raise RuntimeError(f"the sandbox did not start on {settings.sandbox_url}")


def _wait(children: list[subprocess.Popen[bytes]]) -> None:
    stop = {"now": False}

    def on_signal(signum, frame):  # type: ignore[no-untyped-def]
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop["now"]:
        if any(child.poll() is not None for child in children):
            print("a Kontor process exited; stopping the others", file=sys.stderr)
            return
        time.sleep(0.2)


def cmd_phone(args: argparse.Namespace) -> int:
    from sms_gateway.phone import run_phone

    return run_phone(_settings(args), args.sender, args.url, args.channel)


def cmd_smpp(args: argparse.Namespace) -> int:
    """The SMPP channel: one long-lived bind until SIGTERM or Ctrl-C, then unbind."""
    from sms_gateway.smpp.main import serve
    from storage.db import upgrade

    settings = _settings(args)
    if not args.no_migrate:
        upgrade(settings.database_url)  # delivery receipts update outbound_messages
    return serve(settings)


def cmd_export(args: argparse.Namespace) -> int:
    from sms_gateway.export import export

    export(_settings(args), args.format, sys.stdout)
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from sms_gateway.jobadmin import failed, retry

    settings = _settings(args)
    return failed(settings, sys.stdout) if args.action == "failed" else retry(settings, sys.stdout)


def cmd_outbox(args: argparse.Namespace) -> int:
    from sms_gateway.outbox_admin import failed, resend

    settings = _settings(args)
    if args.action == "failed":
        return failed(settings, sys.stdout)
    if not (args.ids or args.all):
        print("kontor outbox resend: give message ids or --all", file=sys.stderr)
        return 2
    return resend(settings, [int(i) for i in args.ids], args.all, sys.stdout)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kontor", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, func, help_text: str) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--config", help="settings file (default: $KONTOR_CONFIG or ./config.yaml)")
        sp.set_defaults(func=func)
        return sp

    for name, func, text in (
        ("web", cmd_web, "serve the webhook with gunicorn"),
        ("worker", cmd_worker, "run an RQ worker"),
        ("smpp", cmd_smpp, "bind to the SMSC of smpp.* and serve the SMPP channel"),
    ):
        sp = command(name, func, text)
        sp.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
        if name == "worker":
            sp.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    command("up", cmd_up, "run everything locally: Redis, migrations, sandboxes, web, worker")
    command("sandbox", cmd_sandbox, "serve the sandbox subscriber system, civil registry and mobile ownership")
    command("migrate", cmd_migrate, "apply database migrations")
    phone = command("phone", cmd_phone, "an interactive terminal phone for the local service")
    phone.add_argument("--from", dest="sender", required=True, help="the phone number you text from")
    phone.add_argument("--url", default="", help="webhook URL (default: from server.host/port)")
    phone.add_argument(
        "--channel",
        default="twilio",
        choices=("twilio", "kavenegar", "ussd", "smpp"),
        help="the gateway to speak as (default twilio); smpp: this terminal is the SMSC `kontor smpp` binds to",
    )
    requests = sub.add_parser("requests", help="stored requests").add_subparsers(dest="action", required=True)
    exp = requests.add_parser("export", help="print every stored request")
    exp.add_argument("--format", choices=("json", "csv"), default="json")
    exp.add_argument("--config")
    exp.set_defaults(func=cmd_export)
    jobs = command("jobs", cmd_jobs, "finishing jobs that failed for good")
    jobs.add_argument("action", choices=("failed", "retry"))
    outbox = command("outbox", cmd_outbox, "SMS the gateway refused for good: list them, send them again")
    outbox.add_argument("action", choices=("failed", "resend"))
    outbox.add_argument("ids", nargs="*", help="message ids to send again (from `kontor outbox failed`)")
    outbox.add_argument("--all", action="store_true", help="send every failed message again")
    from sms_gateway.desk.commands import add_commands

    add_commands(command, _settings)  # desk, users, stats (issue 10)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from sms_gateway.logs import install

    install()  # mask national IDs, bill IDs and mobiles in every log record of every command
    args = parser().parse_args(argv)
    try:
        if args.command in PROCESS_ROLES:
            metrics_dir(_settings(args))
        return int(args.func(args))
    except ConfigError as exc:
        print(f"kontor: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
