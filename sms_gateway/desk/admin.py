"""Pages beyond the queue: statistics (tables, SVG charts, CSV), the audit log, and managing people."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from dialogs.text import latin_digits
from sms_gateway.desk import i18n, queries, stats, svg
from sms_gateway.desk.app import current, require
from sms_gateway.desk.roles import ROLES
from sms_gateway.desk.users import add_user, all_users, disable_user

bp = Blueprint("admin", __name__)


def report_from_args() -> tuple[stats.Report, dict[str, str]]:
    """The report the query string asks for: ?by=month|season|year&from=1405/01/01&to=..."""
    by = request.args.get("by", "month")
    by = by if by in stats.BY else "month"
    bounds = {}
    for name in ("from", "to"):
        try:
            bounds[name] = stats.parse_jalali(latin_digits(request.args.get(name, "")))
        except ValueError:
            bounds[name] = None
    with current().reader() as db:
        records = queries.stat_records(db, bounds["from"], bounds["to"])
    shown = {"by": by, "from": request.args.get("from", ""), "to": request.args.get("to", "")}
    return stats.summarise(records, by, bounds["from"], bounds["to"]), shown


@bp.get("/stats")
@require("read")
def stats_page() -> Any:
    report, shown = report_from_args()
    rows = stats.table(report, g.lang)
    periods = [r[0] for r in rows[:-1]]
    labels, rtl = [i18n.digits(p, g.lang) for p in periods], g.lang == "fa"
    figures = {
        "requests": [float(r.total) for r in report.rows],
        "service_time": [stats.mean(r.hours) or 0.0 for r in report.rows],
    }
    charts = [
        (
            i18n.word(name, g.lang),
            svg.bars(labels, values, i18n.word(name, g.lang), rtl, lambda text: i18n.digits(text, g.lang)),
        )
        for name, values in figures.items()
    ]
    return render_template("stats.html", header=stats.header(report), rows=rows, charts=charts, shown=shown)


@bp.get("/stats.csv")
@require("read")
def stats_csv() -> Response:
    """The same table as the page and `kontor stats --format csv`, for a spreadsheet."""
    report, shown = report_from_args()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(stats.header(report))
    writer.writerows(stats.table(report, g.lang))
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=kontor-stats-{shown['by']}.csv"},
    )


@bp.get("/audit")
@require("audit")
def audit_page() -> Any:
    with current().reader() as db:
        entries = queries.audit_log(db)
    return render_template("audit.html", entries=entries)


@bp.route("/users", methods=["GET", "POST"])
@require("manage_users")
def users_page() -> Any:
    """Add a person (the admin types the first password) or disable one; both go to the audit log."""
    if request.method == "POST":
        name, action = request.form.get("name", "").strip(), request.form.get("action", "")
        try:
            with current().db.begin() as db:
                if action == "disable":
                    if name == g.user.name or not disable_user(db, name, g.user.name, g.now):  # never the last admin
                        raise ValueError(i18n.word("not_found", g.lang))
                else:
                    add_user(
                        db, name, request.form.get("role", ""), request.form.get("password", ""), g.user.name, g.now
                    )
            flash(i18n.word("user_disabled" if action == "disable" else "user_added", g.lang), "ok")
        except ValueError as exc:
            flash(str(exc), "error")
        return redirect(url_for("admin.users_page"))
    with current().reader() as db:
        people = all_users(db)
    return render_template("users.html", people=people, roles=ROLES)
