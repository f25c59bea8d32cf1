"""Thread pools kept for the life of a worker process: a batch hands its waiting (sends, outside calls) to one,
instead of starting threads of its own each time (starting 16 threads cost more than storing 50 requests)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_POOLS: dict[tuple[str, int], ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def pool(name: str, width: int) -> ThreadPoolExecutor:
    """The process's pool `name` of `width` threads (made on first use)."""
    with _LOCK:
        key = (name, max(1, width))
        if key not in _POOLS:
            _POOLS[key] = ThreadPoolExecutor(key[1], thread_name_prefix=f"kontor-{name}")
        return _POOLS[key]
