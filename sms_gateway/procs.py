"""Child processes: start `kontor <role>` (or any program) with its log in a folder, wait until it answers, stop it.

One runner for the tests' stacks, the fault suite and `make bench`. Stopping is polite: SIGTERM (Redis flushes,
gunicorn drains), then SIGKILL after a grace time. Children run in their own session, so a Ctrl-C of the caller
reaches only the caller, which then stops them in the reverse order of their start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Child = subprocess.Popen[Any]  # bytes when it logs to a file, str when the caller reads its output


def stop(proc: Child, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within the grace time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    """A loopback port nobody listens on now, for a child to bind."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kontor_argv(role: str, config: Path | str, *extra: str) -> list[str]:
    """`kontor <role> --config <config>` with this interpreter, so a venv's Kontor runs without its bin on PATH."""
    return [sys.executable, "-m", "sms_gateway.cli", role, "--config", str(config), *extra]


def http_ok(url: str) -> Callable[[], bool]:
    """A check: the URL answers 200 (a health endpoint)."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    return check


def port_open(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    """A check: something accepts connections on this port."""

    def check() -> bool:
        try:
            socket.create_connection((host, port), 0.5).close()
            return True
        except OSError:
            return False

    return check


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.1, proc: Child | None = None) -> bool:
    """Poll a condition, bounded; gives up early when the process it waits for has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(step)
    return check()


class Runner:
    """The children of one run, by name, each logging to <folder>/<name>.log (appended across restarts)."""

    def __init__(self, folder: Path, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        self.folder, self.cwd = folder, cwd
        self.env = None if env is None else dict(env)  # None: the caller's environment at each start
        self.procs: dict[str, Child] = {}

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**(os.environ if self.env is None else self.env), **(extra or {})}

    def start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None, pipe: bool = False) -> Child:
        """Start a program; its output goes to its log, or to a text pipe the caller reads (`pipe`)."""
        if name in self.procs and self.procs[name].poll() is None:
            raise RuntimeError(f"{name} is already running")
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(name), "ab") as log:
            output = subprocess.PIPE if pipe else log
            proc = subprocess.Popen(
                argv,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(env),
                cwd=self.cwd,
                start_new_session=True,
                text=pipe,
            )
        self.procs[name] = proc
        return proc

    def run(self, name: str, argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 120.0) -> None:
        """Run a program to its end (a migration), its output in its log; raise with the log when it fails."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(name), "ab") as log:
            code = subprocess.run(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(env),
                cwd=self.cwd,
                timeout=timeout,
            ).returncode
        if code != 0:
            raise RuntimeError(f"{name} exited with {code}:\n{self.log(name)}")

    def kontor(self, role: str, config: Path, *extra: str, name: str = "") -> Child:
        """Start `kontor <role>` on this config (KONTOR_CONFIG too, for the jobs a worker runs)."""
        return self.start(name or role, kontor_argv(role, config, *extra), {"KONTOR_CONFIG": str(config)})

    def wait(self, name: str, check: Callable[[], bool], timeout: float, what: str = "did not answer") -> None:
        """Return once the check passes; raise with the child's log when it does not in time, or the child exits."""
        if not wait_until(check, timeout, proc=self.procs[name]):
            raise RuntimeError(f"{name} {what}:\n{self.log(name)}")

    def wait_http(self, name: str, url: str, timeout: float = 30.0) -> None:
        self.wait(name, http_ok(url), timeout, f"did not answer 200 on {url}")

    def wait_port(self, name: str, port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
        self.wait(name, port_open(port, host), timeout, f"did not listen on {host}:{port}")

    def log_path(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def log(self, name: str, limit: int = 5000) -> str:
        """The end of a child's log, for an error message."""
        path = self.log_path(name)
        return path.read_text(errors="replace")[-limit:] if path.exists() else ""

    def stop(self, *names: str, timeout: float = 15.0) -> None:
        """Stop these children (all by default, the last started first) and forget them."""
        for name in names or tuple(reversed(self.procs)):
            stop(self.procs.pop(name), timeout)
