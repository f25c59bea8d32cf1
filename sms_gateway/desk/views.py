"""The reviewer's pages: the queue, one request (with reveal and decide), its attachments, and search."""

from __future__ import annotations

from typing import Any

import jdatetime
from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_from_directory, url_for

from adapters.http import OutsideSystemError, OutsideSystemUnavailable
from dialogs.meters import ENERGY, days_since
from dialogs.model import REGISTER_ORDER, Meter
from dialogs.text import latin_digits
from sms_gateway.desk import decide as deciding
from sms_gateway.desk import i18n, queries
from sms_gateway.desk.app import current, require
from sms_gateway.desk.stats import parse_jalali
from sms_gateway.desk.users import audit
from storage.models import Request

bp = Blueprint("views", __name__)
STATUSES = ("under_review", "received", "bill_issued", "rejected", "read_again")


def _jalali_arg(name: str) -> jdatetime.date | None:
    """A Jalali date typed in a filter, in any digits; a blank or impossible one is no filter."""
    try:
        return parse_jalali(latin_digits(request.args.get(name, "")))
    except ValueError:
        return None


@bp.get("/")
@require("read")
def queue_page() -> Any:
    """Flagged requests, oldest first, with their reason and how long they have waited."""
    status = request.args.get("status", "under_review")
    company = latin_digits(request.args.get("company", "")).strip()  # Persian digits as typed
    wanted = queries.QueueFilter(
        status if status in STATUSES else "",
        company if company.isascii() and company.isdigit() else "",
        _jalali_arg("from"),
        _jalali_arg("to"),
    )
    with current().reader() as db:
        rows = queries.queue(db, wanted)
    return render_template(
        "queue.html",
        rows=rows,
        wanted=wanted,
        statuses=STATUSES,
        args=request.args,
        waited=lambda since: i18n.waited(since, g.now, g.lang),
    )


def _meter(bill_id: str) -> Meter | None:
    """The last readings live in the subscriber system; the page still opens when it is down."""
    try:
        return current().cis.meter(bill_id)
    except (OutsideSystemError, OutsideSystemUnavailable):
        return None


def _registers(row: Request, meter: Meter | None) -> tuple[list[dict[str, Any]], float | None]:
    """Each reading beside the last one and its consumption; and the usual use for the period."""
    last = {reg.name: reg.last for reg in meter.registers} if meter else {}
    names = sorted(row.readings, key=lambda n: REGISTER_ORDER.index(n) if n in REGISTER_ORDER else 99)
    registers = [
        {
            "name": n,
            "reading": row.readings[n],
            "last": last.get(n, "—"),
            "use": row.consumption.get(n, ""),
            "wrapped": n in row.wraps,
        }
        for n in names
    ]
    usual = None
    if meter is not None and meter.daily_kwh > 0 and meter.last_date:
        usual = meter.daily_kwh * days_since(meter.last_date, row.reading_date)
    return registers, usual


def _show(row: Request, revealed: tuple[str, ...] = ()) -> Any:
    """The request page; `revealed` names the fields a reviewer just asked to see in full."""
    meter = _meter(row.bill_id)
    registers, usual = _registers(row, meter)
    energy = sum(float(r["use"]) for r in registers if r["name"] in ENERGY and r["use"] != "")
    with current().reader() as db:
        messages = queries.messages_about(db, row.dialog_id)
        decision = queries.decision_of(db, row.id)
        history = queries.history_of(db, row.id)
    return render_template(
        "request.html",
        row=row,
        meter=meter,
        registers=registers,
        usual=usual,
        above_usual=usual is not None and energy > usual,
        messages=messages,
        decision=decision,
        history=history,
        revealed=revealed,
        reasons=deciding.REASONS,
    )


def _row(request_id: int) -> Request:
    with current().reader() as db:
        row: Request | None = db.get(Request, request_id)
    if row is None:
        abort(404)
    return row


@bp.get("/requests/<int:request_id>")
@require("read")
def request_page(request_id: int) -> Any:
    return _show(_row(request_id))


@bp.post("/requests/<int:request_id>/reveal")
@require("reveal")
def reveal(request_id: int) -> Any:
    """A reviewer sees the full national ID or mobile; the audit log says who looked at whose."""
    row = _row(request_id)
    what = request.form.get("what", "")
    if what not in ("national_id", "mobile"):
        abort(400)
    with current().db.begin() as db:
        audit(db, g.user.name, "reveal", row.tracking_number, what, g.now)
    return _show(row, revealed=(what,))


@bp.post("/requests/<int:request_id>/decide")
@require("decide")
def decide(request_id: int) -> Any:
    """One decision per request: a reviewer who comes second is told, and nothing changes."""
    action, reason = request.form.get("action", ""), request.form.get("reason", "")
    if action == "approve":
        reason = ""
    if action not in deciding.ACTIONS or reason not in deciding.REASONS[action]:
        abort(400)
    result = deciding.decide(
        current(), request_id, action, reason, request.form.get("note", "").strip(), g.user.name, g.now
    )
    flash(i18n.word(result.code, g.lang), "ok" if result.done else "error")
    return redirect(url_for("views.request_page", request_id=request_id))


@bp.get("/requests/<int:request_id>/attachments/<int:index>")
@require("read")
def attachment(request_id: int, index: int) -> Any:
    """A stored MMS file: images inline, anything else (PDF) as a download."""
    row = _row(request_id)
    if not 0 <= index < len(row.attachments) or row.attachments[index].get("status") != "stored":
        abort(404)
    item = row.attachments[index]
    kind = str(item.get("content_type", "application/octet-stream"))
    return send_from_directory(
        current().settings.media_path, str(item["file"]), mimetype=kind, as_attachment=not kind.startswith("image/")
    )


@bp.get("/search")
@require("read")
def search() -> Any:
    text = request.args.get("q", "").strip()
    with current().reader() as db:
        rows = queries.search(db, text) if text else []
    return render_template("search.html", rows=rows, q=text)
