"""Signing in and out, and the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from sms_gateway.desk import i18n
from sms_gateway.desk.app import current
from sms_gateway.desk.users import audit, authenticate

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """A fresh session on success (no fixation); the same answer for a wrong name and a wrong password."""
    if request.method == "GET":
        return render_template("login.html", error="")
    name, password = request.form.get("name", "").strip(), request.form.get("password", "")
    with current().db.begin() as db:
        result = authenticate(db, name[:64], password, g.now)
        uid = result.user.id if result.user is not None else None
    if uid is None:
        message = i18n.word("locked" if result.outcome == "locked" else "bad_login", g.lang)
        return render_template("login.html", error=message), 401
    lang = g.lang
    session.clear()
    session.update(uid=uid, lang=lang)
    session.permanent = True
    return redirect(url_for("views.queue_page"))


@bp.post("/logout")
def logout() -> Any:
    with current().db.begin() as db:
        audit(db, g.user.name, "logout", g.user.name, "", g.now)
    lang = g.lang
    session.clear()
    session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def language(code: str) -> Any:
    """Persian or English; back to the same page (a local path only, never another site)."""
    if code in ("fa", "en"):
        session["lang"] = code
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("views.queue_page")
    return redirect(target)
