"""The subscriber services system (CIS): which registers a bill's meter has, and their last readings."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import jdatetime
import yaml

from dialogs.model import Meter, Register

DEMO_DATA = Path(__file__).parent / "data" / "demo_subscribers.yaml"


class SubscriberSystem(Protocol):
    def meter(self, bill_id: str) -> Meter | None:
        """The meter behind a bill ID, or None when the system does not know the bill."""


class SandboxSubscriberSystem:
    """Answers from shipped demo data, so Kontor runs end to end with no utility system behind it."""

    def __init__(self, path: Path = DEMO_DATA) -> None:
        self.subscribers: dict[str, dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["subscribers"]

    def meter(self, bill_id: str) -> Meter | None:
        entry = self.subscribers.get(bill_id)
        if entry is None:
            return None
        registers = tuple(Register(name, r["digits"], r.get("decimals", 0), str(r["last"]))
                          for name, r in entry["registers"].items())
        year, month, day = (int(p) for p in entry["last_reading_date"].split("/"))
        last = jdatetime.date(year, month, day).togregorian().isoformat()
        return Meter(bill_id, entry["kind"], registers, last)
