"""The dialog's data: what comes in, the open dialog, what it asks the world, what goes out. Plain and typed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from dialogs.catalogue import Catalogue
from dialogs.request import Attachment, ConfirmedRequest

REGISTER_ORDER = ("low", "mid", "peak", "reactive", "friday", "demand")

__all__ = [
    "REGISTER_ORDER",
    "Attachment",
    "ConfirmedRequest",
    "Media",
    "Inbound",
    "Register",
    "Meter",
    "Rules",
    "Answers",
    "Pending",
    "Session",
    "BillLookup",
    "StatusLookup",
    "RequestStatus",
    "Query",
    "FinishRequest",
    "Effect",
    "Outcome",
]


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class Inbound:
    """One SMS (or USSD input): who sent it, what it said, its gateway id (dedupe and dialog id), any MMS media,
    and the channel it came by ("twilio", "kavenegar", "smpp", "ussd"), which picks the words that fit it."""

    sender: str
    text: str
    message_id: str = ""
    media: tuple[Media, ...] = ()
    channel: str = "twilio"  # the inbound channel (sms_gateway.channels.CHANNELS), recorded on the request


@dataclass(frozen=True)
class Register:
    name: str
    digits: int
    decimals: int = 0
    last: str = ""


@dataclass(frozen=True)
class Meter:
    """What the subscriber system says of a bill: the registers to ask for and their last readings."""

    bill_id: str
    kind: str
    registers: tuple[Register, ...]
    last_date: str = ""
    multiplier: int = 1
    contract_kw: float = 0.0
    daily_kwh: float = 0.0

    def in_card_order(self) -> Meter:
        """The same meter with its registers in the order the service card asks for them."""
        regs = tuple(sorted(self.registers, key=lambda r: REGISTER_ORDER.index(r.name)))
        return dataclasses.replace(self, registers=regs)


@dataclass(frozen=True)
class Rules:
    """Every bound comes from configuration; the defaults here only serve tests."""

    catalogue: Catalogue
    idle_minutes: int = 30
    default_language: str = "fa"
    description_max: int = 300
    usual_factor: float = 3.0
    hours_per_day: float = 24.0
    connection_kw: float = 25.0
    demand_factor: float = 1.2
    require_receipt: bool = False
    require_national_card: bool = False


@dataclass
class Answers:
    """What the subscriber has given so far; "" (or empty) means not given yet."""

    bill_id: str = ""
    national_id: str = ""
    readings: dict[str, str] = field(default_factory=dict)  # register name -> value as typed, in card order
    wraps: list[str] = field(default_factory=list)  # registers confirmed to have rolled over
    reading_date: str = ""  # ISO (Gregorian)
    description: str = ""
    receipt_reference: str = ""


@dataclass(frozen=True)
class Pending:
    """A reading that waits for an explicit `1`: lower than the last one (wrap) or far above the usual use."""

    value: str
    reason: str  # "wrap" or "unusual"
    wrapped: bool = False
    kwh: int = 0


@dataclass
class Session:
    """One open dialog. `step` names a row of dialogs.flow.STEPS; `register_index` the register being read."""

    dialog_id: str
    language: str
    step: str
    last_active: datetime  # local (Tehran) time of the last message, to the second
    answers: Answers = field(default_factory=Answers)
    media: list[Attachment] = field(default_factory=list)
    meter: Meter | None = None  # known once the bill lookup answered
    register_index: int = 0
    pending: Pending | None = None
    channel: str = "twilio"  # the channel of the last message: a query's answer is worded for it
    queued: list[str] = field(default_factory=list)  # a one-SMS report's parts not applied yet, in order
    quick: bool = False  # a one-SMS report: date today, no description, no receipt

    def copy(self) -> Session:
        """A copy to change freely: the mutable parts are copied, the frozen ones (meter, pending) shared."""
        a = self.answers
        answers = dataclasses.replace(a, readings=dict(a.readings), wraps=list(a.wraps))
        return dataclasses.replace(self, answers=answers, media=list(self.media), queued=list(self.queued))

    @property
    def register(self) -> Register:
        """The register the dialog is asking for now."""
        assert self.meter is not None, "no register before the bill lookup"
        return self.meter.registers[self.register_index]


@dataclass(frozen=True)
class BillLookup:
    """Ask the subscriber system for the meter behind a bill; answered with a Meter or None."""

    bill_id: str


@dataclass(frozen=True)
class StatusLookup:
    """Ask storage for the phone's requests (one, when `tracking` is given); answered with [RequestStatus]."""

    phone: str
    tracking: str | None
    language: str


@dataclass(frozen=True)
class RequestStatus:
    """One of the phone's requests as the status reply shows it."""

    tracking_number: str
    status: str
    updated_jalali: str
    amount: int | None = None
    payment_id: str = ""


Query = BillLookup | StatusLookup


@dataclass(frozen=True)
class FinishRequest:
    """Store the confirmed request and follow it up (an RQ job, enqueued in the save's round trip)."""

    request: ConfirmedRequest


Effect = FinishRequest


@dataclass
class Outcome:
    """The new session (None = no dialog), replies to send now, effects for after the save, a query to answer."""

    session: Session | None
    replies: list[str] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    query: Query | None = None
