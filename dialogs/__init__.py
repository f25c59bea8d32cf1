"""The conversation as data and pure functions: no I/O, no clock, no randomness (a test enforces it)."""

from dialogs.engine import advance, new_session, resume
from dialogs.errors import Refused
from dialogs.model import (
    Answers,
    Attachment,
    BillLookup,
    ConfirmedRequest,
    Effect,
    FinishRequest,
    Inbound,
    Media,
    Meter,
    Outcome,
    Pending,
    Query,
    Register,
    RequestStatus,
    Rules,
    Session,
    StatusLookup,
)

__all__ = [
    "advance",
    "resume",
    "new_session",
    "Answers",
    "Attachment",
    "BillLookup",
    "ConfirmedRequest",
    "Effect",
    "FinishRequest",
    "Inbound",
    "Media",
    "Meter",
    "Outcome",
    "Pending",
    "Query",
    "Refused",
    "Register",
    "RequestStatus",
    "Rules",
    "Session",
    "StatusLookup",
]
