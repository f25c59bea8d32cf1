"""The fault suite's marker: `make faults` runs only it; `make test` runs it with everything else."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: real processes with injected faults (tests/faults)")
