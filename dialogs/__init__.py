"""The conversation as data and pure functions: no I/O, no clock, no randomness (a test enforces it)."""
from dialogs.engine import advance, new_session, resume
from dialogs.model import Inbound, Media, Meter, Outcome, Register, Rules

__all__ = ["advance", "resume", "new_session", "Inbound", "Media", "Meter", "Outcome", "Register", "Rules"]
