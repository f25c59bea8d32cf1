"""The Flask app factory: no configuration is read at import time."""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask, Response, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException, InternalServerError

from sms_gateway import channels, logs
from sms_gateway.runtime import Services

MAX_BODY = 64 * 1024


def create_app(services: Services) -> Flask:
    """The app with the channels' webhooks, /healthz, masked logs and plain error answers (never a traceback)."""
    logs.install()
    app = Flask("kontor")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY)
    channels.register(app, services)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        checks = {"redis": _check(lambda: services.redis.ping()), "database": _check(lambda: _db_ping(services))}
        return jsonify(checks), 200 if all(v == "ok" for v in checks.values()) else 503

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _unexpected)  # a channel answers its own (blueprint first)
    return app


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    """404, 405, 413 and the like: the status and its name, as plain text."""
    code = exc.code or 500
    if code >= 500:
        return _unexpected_response(), code
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]  # keeps Allow on a 405
    return Response(f"{code} {exc.name}\n", mimetype="text/plain", headers=headers), code


def _unexpected(exc: InternalServerError) -> tuple[Response, int]:
    """Any error no one handled (Flask has logged its traceback): a plain 500, never a traceback."""
    logging.getLogger("kontor.app").error("unexpected error on %s: %r", request.path, exc.original_exception or exc)
    return _unexpected_response(), InternalServerError.code


def _unexpected_response() -> Response:
    return Response("500 Internal Server Error\n", mimetype="text/plain")


def _db_ping(services: Services) -> None:
    """PostgreSQL: a query on the pool. SQLite: open the file itself (a pooled connection never notices it gone)."""
    if services.engine.dialect.name == "sqlite" and services.engine.url.database:
        probe = sqlite3.connect(f"file:{services.engine.url.database}?mode=rw", uri=True, timeout=1)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()
        return
    with services.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check(probe) -> str:  # type: ignore[no-untyped-def]
    try:
        probe()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        logging.getLogger("kontor.health").warning("health check failed: %s", exc)
        return "down"
