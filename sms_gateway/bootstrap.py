"""The worker's services, installed once at start: every job asks here, so a test can install real parts directly.

`kontor worker` builds the services from its settings and installs them before taking jobs. An RQ process started
some other way (`rq worker`) has nothing installed: the first job then builds them from KONTOR_CONFIG, once.
"""

from __future__ import annotations

import threading

from sms_gateway.runtime import Services, build
from sms_gateway.settings import load

_lock = threading.Lock()
_installed: list[Services] = []  # at most one: the process's services


def install(services: Services) -> Services:
    """Make `services` the ones every job of this process uses (a test installs its own, then uninstalls)."""
    with _lock:
        _installed[:] = [services]
    return services


def uninstall() -> None:
    """Forget the installed services (the next job falls back to KONTOR_CONFIG)."""
    with _lock:
        _installed.clear()


def services() -> Services:
    """The installed services; without any, built once from the settings that KONTOR_CONFIG names."""
    with _lock:
        if not _installed:
            _installed.append(build(load()))
        return _installed[0]
