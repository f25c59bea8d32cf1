"""SQL tables: the confirmed requests with every field of the service card, their status history, the SMS outbox."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Request(Base):
    """One confirmed out-of-cycle bill request: every field of dialogs.request.ConfirmedRequest, then its outcome;
    dialog_id makes the finishing job idempotent."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dialog_id: Mapped[str] = mapped_column(String(64), unique=True)
    tracking_number: Mapped[str] = mapped_column(String(12), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    bill_id: Mapped[str] = mapped_column(String(13), index=True)
    national_id: Mapped[str] = mapped_column(String(10))
    mobile: Mapped[str] = mapped_column(String(20), index=True)
    readings: Mapped[dict[str, Any]] = mapped_column(JSON)
    reading_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    receipt_reference: Mapped[str] = mapped_column(String(20), default="")
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(2), default="fa")
    wraps: Mapped[list[str]] = mapped_column(JSON, default=list)
    registers: Mapped[list[str]] = mapped_column(JSON, default=list)
    consumption: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    bill_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payment_id: Mapped[str] = mapped_column(String(20), default="")
    channel: Mapped[str] = mapped_column(String(12), default="sms", server_default="sms")  # issue 10 (desk)
    confirmed_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    history: Mapped[list[StatusChange]] = relationship(back_populates="request", order_by="StatusChange.id")


class StatusChange(Base):
    __tablename__ = "status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime)

    request: Mapped[Request] = relationship(back_populates="history")


# The outbox's states: pending (owed) -> sending (claimed, committed before the gateway call) -> sent | failed;
# uncertain (the gateway may have it: a timeout after the request went out); suppressed (opted out).
# A message in sending whose claimer is gone, or uncertain, is reconciled with the gateway before any resend.
PENDING, SENDING, SENT, FAILED, UNCERTAIN, SUPPRESSED = (
    "pending",
    "sending",
    "sent",
    "failed",
    "uncertain",
    "suppressed",
)
FINISHED = (SENT, FAILED, SUPPRESSED)


class OutboundMessage(Base):
    """An SMS Kontor owes a subscriber; event_key is unique so one event never yields two messages."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(100), unique=True)
    to: Mapped[str] = mapped_column(String(20), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # the sweep's query (0007)
    provider: Mapped[str] = mapped_column(String(12), default="")
    provider_id: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    claimed_by: Mapped[str] = mapped_column(String(120), default="", server_default="")  # the process sending it
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # when that send began
    # The gateway's delivery report (Kavenegar: delivered, undelivered, ...), "" until one arrives (migration 0006).
    delivery_status: Mapped[str] = mapped_column(String(16), default="", server_default="")
    delivery_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
