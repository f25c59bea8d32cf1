"""Privacy in logs: every record loses the digits of national IDs, bill IDs, mobiles and tracking numbers."""

from __future__ import annotations

import logging
import re
import threading

_LONG_DIGITS = re.compile(r"\d{6,}")  # \d is Unicode: Persian and Arabic-Indic digits are caught too
_installed = threading.Lock()
_state: dict[str, object] = {"factory": None}


def mask_digits(text: str) -> str:
    """Any run of six or more digits keeps only its last four, so a log never holds a whole identifier."""
    return _LONG_DIGITS.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], text)


class MaskDigits(logging.Filter):
    """Masks the formatted message, the traceback and the stack of a record, in place; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_kontor_masked", False):
            return True
        try:
            record.msg, record.args = mask_digits(record.getMessage()), None
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            record.msg, record.args = mask_digits(str(record.msg)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_digits(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_digits(record.stack_info)
        record._kontor_masked = True
        return True


def install() -> None:
    """Mask at record creation (every logger, every handler, even ones added later) and on root's handlers."""
    with _installed:
        if _state["factory"] is not None:
            return
        base, masker = logging.getLogRecordFactory(), MaskDigits()

        def factory(*args, **kwargs) -> logging.LogRecord:  # type: ignore[no-untyped-def]
            record = base(*args, **kwargs)
            masker.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _state["factory"] = factory
        for handler in logging.getLogger().handlers:
            handler.addFilter(masker)
