"""The rest of the desk through Flask's client: read again, people managed on the page and by the CLI, attachments,
search, the queue's filters."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from sms_gateway import cli
from sms_gateway.desk.i18n import digits
from sms_gateway.outbox import utcnow
from storage.models import OutboundMessage
from storage.staff import StaffUser
from tests.desk.conftest import Desk
from tests.desk.support import PASSWORD, flagged_request, status_of, token


def test_asking_to_read_again_owes_that_sms(desk: Desk) -> None:
    request_id = flagged_request(desk.services.db, utcnow(), "100000000042", language="en")
    reviewer = desk.client("rita")
    page = reviewer.get(f"/requests/{request_id}").get_data(as_text=True)
    reviewer.post(
        f"/requests/{request_id}/decide",
        data={"action": "reread", "reason": "reread_unclear", "csrf_token": token(page)},
    )
    assert status_of(desk.services.db, request_id) == "read_again"
    cat = desk.services.rules.catalogue
    with desk.services.db() as db:
        body = db.scalar(select(OutboundMessage.body).where(OutboundMessage.event_key.like("decision:%")))
    assert body == cat.text(
        "sms_read_again", "en", tracking="100000000042", reason=cat.text("reason_reread_unclear", "en")
    )
    bad = reviewer.post(
        f"/requests/{request_id}/decide", data={"action": "reject", "reason": "made_up", "csrf_token": token(page)}
    )
    assert bad.status_code == 400


def test_an_admin_adds_and_disables_people_and_a_disabled_session_ends(desk: Desk) -> None:
    admin, reviewer = desk.client("ada"), desk.client("rita")
    page = admin.get("/users").get_data(as_text=True)
    admin.post(
        "/users",
        data={"action": "add", "name": "neda", "role": "auditor", "password": "x" * 12, "csrf_token": token(page)},
    )
    admin.post("/users", data={"action": "disable", "name": "rita", "csrf_token": token(page)})
    with desk.services.db() as db:
        people = {u.name: (u.role, u.active) for u in db.scalars(select(StaffUser))}
    assert people["neda"] == ("auditor", True) and people["rita"] == ("reviewer", False)
    assert reviewer.get("/").status_code == 302
    audit = admin.get("/audit").get_data(as_text=True)
    assert "user_added" in audit and "user_disabled" in audit


def test_an_admin_cannot_disable_themselves_or_nobody(desk: Desk) -> None:
    admin = desk.client("ada")
    page = admin.get("/users").get_data(as_text=True)
    for name in ("ada", "no-such-person"):
        admin.post("/users", data={"action": "disable", "name": name, "csrf_token": token(page)})
    with desk.services.db() as db:
        assert db.scalar(select(StaffUser.active).where(StaffUser.name == "ada")) is True
    assert admin.get("/users").status_code == 200  # still an admin, still in
    assert "user_disabled" not in admin.get("/audit").get_data(as_text=True)


def test_the_cli_adds_from_stdin_and_refuses_a_mismatch(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONTOR_CONFIG", str(desk.config))
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n{PASSWORD}\n"))
    assert cli.main(["users", "add", "sam", "--role", "reviewer", "--config", str(desk.config)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\nsomething-else\n"))
    assert cli.main(["users", "add", "sue", "--role", "reviewer", "--config", str(desk.config)]) == 1
    assert cli.main(["users", "disable", "sam", "--config", str(desk.config)]) == 0
    with desk.services.db() as db:
        assert [
            (u.name, u.active) for u in db.scalars(select(StaffUser).where(StaffUser.name.in_(["sam", "sue"])))
        ] == [("sam", False)]


def test_attachments_inline_and_as_download(desk: Desk) -> None:
    media = desk.services.settings.media_path
    media.mkdir(parents=True, exist_ok=True)
    (media / "a.jpg").write_bytes(b"\xff\xd8jpeg")
    (media / "b.pdf").write_bytes(b"%PDF-1.4")
    items = [
        {"status": "stored", "content_type": "image/jpeg", "file": "a.jpg"},
        {"status": "stored", "content_type": "application/pdf", "file": "b.pdf"},
        {"status": "refused_type", "content_type": "text/html"},
    ]
    request_id = flagged_request(desk.services.db, utcnow(), "100000000059", attachments=items)
    auditor = desk.client("aud")
    page = auditor.get(f"/requests/{request_id}").get_data(as_text=True)
    assert f'<img class="attachment" src="/requests/{request_id}/attachments/0"' in page
    image, pdf = (auditor.get(f"/requests/{request_id}/attachments/{n}") for n in (0, 1))
    assert image.data == b"\xff\xd8jpeg" and "attachment" not in image.headers.get("Content-Disposition", "")
    assert pdf.headers["Content-Disposition"].startswith("attachment") and pdf.mimetype == "application/pdf"
    assert auditor.get(f"/requests/{request_id}/attachments/2").status_code == 404


def test_search_and_queue_filters(desk: Desk) -> None:
    request_id = flagged_request(desk.services.db, utcnow(), "100000000067")
    auditor = desk.client("aud")
    tracking = digits("100000000067", "fa")
    for query in ("100000000067", "5678901204122", "1234560003", "09131234567", "+989131234567", "۰۹۱۳۱۲۳۴۵۶۷"):
        assert tracking in auditor.get(f"/search?q={query}").get_data(as_text=True), query
    assert tracking not in auditor.get("/search?q=9999999999").get_data(as_text=True)
    assert tracking in auditor.get("/?company=041").get_data(as_text=True)
    assert tracking not in auditor.get("/?company=123").get_data(as_text=True)
    assert tracking not in auditor.get("/?status=rejected").get_data(as_text=True)
    assert tracking not in auditor.get("/?from=1499/01/01").get_data(as_text=True)
    assert tracking in auditor.get("/?from=1400/01/01&to=1499/12/29").get_data(as_text=True)
    assert request_id


def test_a_reviewer_is_kept_out_while_another_is_deciding(desk: Desk) -> None:
    from sms_gateway.desk import decide as deciding

    request_id = flagged_request(desk.services.db, utcnow(), "100000000075")
    held = desk.services.redis.lock(f"kontor:desk:deciding:{request_id}", timeout=30)
    assert held.acquire(blocking=False)
    result = deciding.decide(desk.services, request_id, "reject", "duplicate_request", "", "rob", utcnow())
    assert result == deciding.Result(False, "being_decided")
    assert status_of(desk.services.db, request_id) == "under_review"
    held.release()
    assert deciding.decide(desk.services, request_id, "reject", "duplicate_request", "", "rob", utcnow()).done
