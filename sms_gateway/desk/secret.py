"""The desk's cookie secret: from config, else the environment, else a random one kept once in data_dir."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sms_gateway.settings import Settings

ENV = "KONTOR_DESK_SECRET_KEY"
FILE = "desk_secret_key"


def secret_key(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """Every desk worker must sign with the same key, so a generated one is written to disk (mode 0600) once."""
    env = os.environ if environ is None else environ
    if settings.desk.secret_key:
        return settings.desk.secret_key
    if env.get(ENV):
        return env[ENV]
    path = settings.data_path / FILE
    if not path.exists():
        _write_once(path, secrets.token_hex(32))
    return path.read_text().strip()


def _write_once(path: Path, value: str) -> None:
    """Created with O_EXCL and mode 0600: a second process racing here keeps the first one's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
