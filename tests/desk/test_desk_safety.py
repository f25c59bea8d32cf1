"""The desk's secrets and safety rails: the cookie secret, Secure cookies on https, an append-only audit log,
the first admin, and the subscriber system's bill for a reviewed request."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from dialogs.ids import valid_payment_id
from sms_gateway.desk.app import create_desk_app
from sms_gateway.desk.decide import payload
from sms_gateway.desk.secret import ENV, FILE, secret_key
from sms_gateway.desk.users import bootstrap_admin
from sms_gateway.outbox import utcnow
from storage.models import Request
from storage.staff import AuditEntry
from tests.desk.conftest import Desk
from tests.desk.support import PASSWORD, flagged_request, token


def test_the_secret_comes_from_config_then_env_then_a_private_file(desk: Desk) -> None:
    settings = desk.services.settings
    configured = dataclasses.replace(settings, desk=dataclasses.replace(settings.desk, secret_key="from-config"))
    assert secret_key(configured, {ENV: "from-env"}) == "from-config"
    assert secret_key(settings, {ENV: "from-env"}) == "from-env"
    made = secret_key(settings, {})
    path = Path(settings.data_dir) / FILE
    assert len(made) == 64 and secret_key(settings, {}) == made and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cookies_are_secure_behind_https(desk: Desk) -> None:
    settings = desk.services.settings
    https = dataclasses.replace(settings, desk=dataclasses.replace(settings.desk, public_url="https://desk.example"))
    app = create_desk_app(dataclasses.replace(desk.services, settings=https))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    answer = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf_token": token(page)})
    assert "Secure" in answer.headers["Set-Cookie"]
    assert "script-src 'none'" in answer.headers["Content-Security-Policy"]


def test_the_audit_log_is_append_only(desk: Desk) -> None:
    desk.client("rita")
    with pytest.raises(PermissionError), desk.services.db.begin() as db:
        entry = db.scalar(select(AuditEntry))
        assert entry is not None
        entry.detail = "rewritten"
        db.flush()
    with pytest.raises(PermissionError), desk.services.db.begin() as db:
        db.delete(db.scalar(select(AuditEntry)))
        db.flush()


def test_the_first_admin_is_made_once(desk: Desk) -> None:
    assert bootstrap_admin(desk.services.db, utcnow()) is None  # the fixture added people already


def test_a_disabled_or_unknown_person_cannot_log_in(desk: Desk) -> None:
    client = desk.client()
    page = client.get("/login").get_data(as_text=True)
    assert (
        client.post("/login", data={"name": "nobody", "password": PASSWORD, "csrf_token": token(page)}).status_code
        == 401
    )


def test_the_subscriber_system_issues_a_reviewed_bill_once(desk: Desk) -> None:
    request_id = flagged_request(desk.services.db, utcnow(), "100000000083")
    with desk.services.db() as db:
        row = db.get(Request, request_id)
        assert row is not None
        request = payload(row)
    first, again = desk.services.cis.issue_bill(request), desk.services.cis.issue_bill(request)
    assert first == again and first.status == "bill_issued" and first.amount_rials
    assert first.payment_id and valid_payment_id(request["bill_id"], first.payment_id)
    assert first.consumption == {"mid": 90.0}


def test_the_migrations_match_the_models(desk: Desk) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base

    with desk.services.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_the_public_webhook_app_has_no_desk(desk: Desk) -> None:
    from sms_gateway.app import create_app

    rules = {rule.rule for rule in create_app(desk.services).url_map.iter_rules()}
    assert not rules & {"/login", "/requests/<int:request_id>", "/stats", "/users", "/metrics"}
