"""`kontor desk`, `kontor users add|disable` and `kontor stats`: the desk's commands, added to the CLI's parser."""

from __future__ import annotations

import argparse
import csv
import getpass
import sys
from collections.abc import Callable
from typing import Any, TextIO

from sms_gateway.settings import Settings

Command = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]
SettingsOf = Callable[[argparse.Namespace], Settings]


def add_commands(command: Command, settings_of: SettingsOf) -> None:
    """Register the desk's subcommands with the CLI's own `command` helper (it adds --config)."""
    desk = command("desk", lambda a: cmd_desk(settings_of(a), a.no_migrate), "serve the utility's desk (gunicorn)")
    desk.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    users = command("users", lambda a: cmd_users(settings_of(a), a), "add or disable people of the desk")
    users.add_argument("action", choices=("add", "disable"))
    users.add_argument("name")
    users.add_argument("--role", choices=("reviewer", "auditor", "admin"), help="for add")
    metrics = command("metrics", lambda a: cmd_metrics(settings_of(a)), "serve Prometheus /metrics (metrics.host:port)")
    metrics.add_argument("--no-migrate", action="store_true", help="accepted for symmetry; metrics never migrate")
    stats = command("stats", lambda a: cmd_stats(settings_of(a), a, sys.stdout), "the service card's statistics")
    stats.add_argument("--by", choices=("month", "season", "year"), default="month")
    stats.add_argument("--from", dest="start", default="", help="Jalali date, e.g. 1405/01/01")
    stats.add_argument("--to", dest="end", default="", help="Jalali date, inclusive")
    stats.add_argument("--format", choices=("table", "csv"), default="table")
    stats.add_argument("--lang", choices=("fa", "en"), default="fa")


def cmd_desk(settings: Settings, no_migrate: bool) -> int:
    """Migrations, the cookie secret, the first admin (password printed once), then gunicorn."""
    from adapters.clock import utcnow
    from sms_gateway.desk.secret import secret_key
    from sms_gateway.desk.serve import DeskWeb, desk_url
    from sms_gateway.desk.users import bootstrap_admin
    from storage.db import make_engine, session_factory, upgrade

    if not no_migrate:
        upgrade(settings.database_url)
    secret_key(settings)  # made once before the workers fork, so they all sign alike
    engine = make_engine(settings.database_url)
    password = bootstrap_admin(session_factory(engine), utcnow())
    engine.dispose()
    if password:
        print(f"Kontor desk: first start, created user 'admin' with password: {password}  (shown only now)", flush=True)
    print(f"Kontor desk: {desk_url(settings)}", flush=True)
    DeskWeb(settings).run()
    return 0


def cmd_metrics(settings: Settings) -> int:
    from sms_gateway import metrics
    from sms_gateway.runtime import build

    metrics.serve(build(settings))
    return 0


def read_password(stdin: TextIO) -> str:
    """Typed twice and never echoed; from a pipe (scripts, tests) the first two lines."""
    if stdin.isatty():
        first, second = getpass.getpass("password: "), getpass.getpass("again: ")
    else:
        first, second = stdin.readline().rstrip("\n"), stdin.readline().rstrip("\n")
    if first != second:
        raise ValueError("the two passwords differ")
    return first


def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.clock import utcnow
    from sms_gateway.desk.users import add_user, disable_user
    from storage.db import make_engine, session_factory, upgrade

    upgrade(settings.database_url)  # the desk's tables may not exist yet on a fresh database
    factory = session_factory(make_engine(settings.database_url))
    try:
        with factory.begin() as db:
            if args.action == "disable":
                if not disable_user(db, args.name, "cli", utcnow()):
                    raise ValueError(f"no user {args.name!r}")
            else:
                if not args.role:
                    raise ValueError("--role is required")
                add_user(db, args.name, args.role, read_password(sys.stdin), "cli", utcnow())
    except ValueError as exc:
        print(f"kontor users: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.name}: {'disabled' if args.action == 'disable' else 'added as ' + args.role}")
    return 0


def cmd_stats(settings: Settings, args: Any, out: TextIO) -> int:
    """The same table as the desk's statistics page and its CSV."""
    from dialogs.text import latin_digits
    from sms_gateway.desk import queries, stats
    from storage.db import make_engine, session_factory

    try:
        start = stats.parse_jalali(latin_digits(args.start)) if args.start else None
        end = stats.parse_jalali(latin_digits(args.end)) if args.end else None
    except ValueError:
        print("kontor stats: dates are Jalali, like 1405/01/01", file=sys.stderr)
        return 2
    with session_factory(make_engine(settings.database_url))() as db:
        report = stats.summarise(queries.stat_records(db, start, end), args.by, start, end)
    rows = [stats.header(report)] + stats.table(report, args.lang)
    if args.format == "csv":
        csv.writer(out).writerows(rows)
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0
