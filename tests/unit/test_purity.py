"""dialogs/ stays pure: no I/O, network, environment, clock or randomness. Checked on the source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DIALOGS = Path(__file__).resolve().parents[2] / "dialogs"

FORBIDDEN_MODULES = {
    "flask",
    "redis",
    "rq",
    "sqlalchemy",
    "twilio",
    "requests",
    "os",
    "time",
    "random",
    "secrets",
    "socket",
    "subprocess",
    "urllib",
    "http",
    "uuid",
    "shutil",
    "pathlib",
    "io",
    "sys",
    "storage",
    "adapters",
    "sms_gateway",
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"}
FORBIDDEN_NAMES = {"open", "input", "print", "exec", "eval", "__import__", "getenv", "environ"}


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Every impure construct in `source`, as 'file:line: what'."""
    found: list[str] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    flag(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[0]
            if node.level == 0 and module in FORBIDDEN_MODULES:
                flag(node, f"from {node.module} import ...")
            for alias in node.names:
                if alias.name in CLOCK_CALLS | FORBIDDEN_NAMES:
                    flag(node, f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS:
                flag(node, f"call .{func.attr}()")
            elif isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                flag(node, f"call {func.id}()")
            elif isinstance(func, ast.Attribute) and func.attr in {"read_text", "read_bytes", "write_text", "open"}:
                flag(node, f"call .{func.attr}()")
        elif isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
            flag(node, f"use .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in {"environ", "__import__"}:
            flag(node, f"use {node.id}")
    return found


SOURCES = sorted(DIALOGS.glob("*.py"))


def test_dialogs_sources_found():
    names = {p.name for p in SOURCES}
    assert {"engine.py", "steps.py", "model.py", "catalogue.py", "text.py", "__init__.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_module_is_pure(path):
    assert violations(path.read_text(encoding="utf-8"), path.name) == []


BAD = [
    ("import os", "import os"),
    ("import os.path", "import os.path"),
    ("from os import environ", "from os import"),
    ("import time\n", "import time"),
    ("import random as r", "import random"),
    ("from secrets import token_hex", "from secrets"),
    ("import flask", "import flask"),
    ("from redis import Redis", "from redis"),
    ("import rq", "import rq"),
    ("from sqlalchemy.orm import Session", "from sqlalchemy"),
    ("from twilio.rest import Client", "from twilio"),
    ("import requests", "import requests"),
    ("import socket, json", "import socket"),
    ("import subprocess", "import subprocess"),
    ("from datetime import datetime\nx = datetime.now()", ".now()"),
    ("import datetime\nx = datetime.datetime.utcnow()", ".utcnow()"),
    ("from datetime import date\nx = date.today()", ".today()"),
    ("import jdatetime\nx = jdatetime.date.today()", ".today()"),
    ("x = open('messages.yaml').read()", "call open()"),
    ("def f(env):\n    return env.environ['HOME']", ".environ"),
    ("from os import getenv", "from os"),
    ("x = __import__('os')", "__import__"),
]


@pytest.mark.parametrize("source, what", BAD, ids=[b[0].splitlines()[-1][:30] for b in BAD])
def test_checker_flags_bad_source(source, what):
    found = violations(source)
    assert found and any(what in v for v in found), found


def test_checker_accepts_pure_source():
    pure = (
        "from __future__ import annotations\n"
        "import re, copy\n"
        "from datetime import date, datetime, timedelta\n"
        "from dialogs.text import normalize\n"
        "def f(now: datetime, text: str) -> str:\n"
        "    return normalize(text) + now.date().isoformat() + str(now - timedelta(minutes=30))\n"
    )
    assert violations(pure) == []
