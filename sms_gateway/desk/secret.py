"""The desk's cookie secret: from config, else the environment, else a random one kept once in data_dir."""

from __future__ import annotations

import os

from sms_gateway.settings import Settings, local_secret

ENV = "KONTOR_DESK_SECRET_KEY"
FILE = "desk_secret_key"


def secret_key(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """Every desk worker must sign with the same key, so a generated one is written to disk (mode 0600) once."""
    env = os.environ if environ is None else environ
    if settings.desk.secret_key:
        return settings.desk.secret_key
    if env.get(ENV):
        return env[ENV]
    return local_secret(settings.data_path / FILE, 32)  # written whole before any worker can read it
