"""The Flask app factory: no configuration is read at import time."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from sqlalchemy import text

from sms_gateway import twilio_hook
from sms_gateway.runtime import Services

MAX_BODY = 64 * 1024


def create_app(services: Services) -> Flask:
    app = Flask("kontor")
    app.config.update(KONTOR_SERVICES=services, KONTOR_PUBLIC_URL=services.settings.server.public_url,
                      MAX_CONTENT_LENGTH=MAX_BODY)
    app.register_blueprint(twilio_hook.bp)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        checks = {"redis": _check(lambda: services.redis.ping()),
                  "database": _check(lambda: _db_ping(services))}
        return jsonify(checks), 200 if all(v == "ok" for v in checks.values()) else 503

    return app


def _db_ping(services: Services) -> None:
    with services.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check(probe) -> str:  # type: ignore[no-untyped-def]
    try:
        probe()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        logging.getLogger("kontor.health").warning("health check failed: %s", exc)
        return "down"
