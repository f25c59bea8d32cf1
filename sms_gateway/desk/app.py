"""The desk's Flask app: signed cookie sessions, CSRF on every form, a login in front of every page, roles."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from adapters.clock import utcnow
from sms_gateway.desk import i18n
from sms_gateway.desk.roles import allowed
from sms_gateway.desk.secret import secret_key
from sms_gateway.desk.users import active_user
from sms_gateway.logs import mask_digits
from sms_gateway.runtime import Services

HERE = Path(__file__).parent
PUBLIC = {"auth.login", "auth.language", "static"}
F = TypeVar("F", bound=Callable[..., Any])


def current() -> Services:
    """The composition root this app was built with."""
    from flask import current_app

    return current_app.extensions["kontor"]  # type: ignore[no-any-return]


def require(permission: str) -> Callable[[F], F]:
    """403 for a signed-in person whose role lacks the permission."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not allowed(g.user.role, permission):
                return render_template("error.html", message=i18n.word("forbidden", g.lang)), 403
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return wrap


def create_desk_app(built: Services) -> Flask:
    """One app per process; the secret comes from settings, the environment or data_dir (see secret.py)."""
    app = Flask("kontor_desk", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    desk = built.settings.desk
    app.config.update(
        SECRET_KEY=secret_key(built.settings),
        SESSION_COOKIE_NAME="kontor_desk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=desk.public_url.lower().startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.extensions["kontor"] = built
    app.before_request(_signed_in)  # first: without a login, even a POST only gets the login page
    CSRFProtect(app)
    app.after_request(_headers)
    app.context_processor(_helpers)
    app.register_error_handler(CSRFError, lambda exc: _error("csrf", 400))
    app.register_error_handler(404, lambda exc: _error("not_found", 404))
    from sms_gateway.desk import admin, auth, views

    for blueprint in (auth.bp, views.bp, admin.bp):
        app.register_blueprint(blueprint)
    return app


def _error(key: str, status: int) -> tuple[str, int]:
    return render_template("error.html", message=i18n.word(key, g.get("lang", "fa"))), status


def _signed_in() -> Response | None:
    """Nothing but the login page and the stylesheet without a signed-in, still active person."""
    g.lang = session.get("lang", "fa") if session.get("lang") in ("fa", "en") else "fa"
    g.user, g.now = None, utcnow()
    uid = session.get("uid")
    if isinstance(uid, int):
        with current().reader() as db:
            g.user = active_user(db, uid)
    if g.user is None and request.endpoint not in PUBLIC:
        session.pop("uid", None)
        return redirect(url_for("auth.login"))  # type: ignore[return-value]
    return None


def _headers(response: Response) -> Response:
    """Personal data: never cached; no framing; only our own scripts, styles and images."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'none'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _helpers() -> dict[str, Any]:
    lang = g.get("lang", "fa")
    return {
        "t": lambda key: i18n.word(key, lang),
        "lang": lang,
        "user": g.get("user"),
        "num": lambda value: i18n.digits(value, lang),
        "jdate": lambda moment: i18n.jalali(moment, lang),
        "can": lambda permission: g.get("user") is not None and allowed(g.user.role, permission),
        "status_name": lambda status: current().rules.catalogue.status(status, lang),
        "reason_text": _reason_text,
        "column_label": lambda name: i18n.column(name, lang, lambda s: current().rules.catalogue.status(s, lang)),
        "register_name": lambda name: current().rules.catalogue.registers.get(name, {}).get(lang, name),
        "mask": mask_digits,
        "local_mobile": _local_mobile,
    }


def _local_mobile(mobile: str) -> str:
    """+989121234567 as Iranians write it, 09121234567 (no sign to flip in a right-to-left line)."""
    return "0" + mobile[3:] if mobile.startswith("+98") else mobile


def _reason_text(code: str) -> str:
    """A status reason in the desk's language: the subscribers' wording when the catalogue has it."""
    messages = current().rules.catalogue.messages
    if f"reason_{code}" in messages:
        return messages[f"reason_{code}"][g.lang]
    return i18n.word(f"reason_{code}", g.lang) if f"reason_{code}" in i18n.WORDS else code.replace("_", " ")
