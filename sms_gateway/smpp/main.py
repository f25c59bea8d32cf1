"""The `kontor smpp` process: settings checked, signals turned into a clean stop (unbind), then the loop."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from sms_gateway import runtime
from sms_gateway.settings import Settings
from sms_gateway.smpp.process import run

log = logging.getLogger("kontor.smpp")


def serve(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; 2 when the smpp section is off (nothing to bind to)."""
    if settings.smpp is None or not settings.smpp.enabled:
        print("kontor smpp: the smpp section is off; set smpp.host and smpp.password", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: unbinding", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    run(runtime.build(settings), stop)
    return 0
