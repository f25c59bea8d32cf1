"""The desk through Flask's test client: login, lockout, roles, CSRF, the decision and its one SMS, a race."""

from __future__ import annotations

import threading

from rq import Queue
from sqlalchemy import select

from dialogs.ids import valid_payment_id
from sms_gateway.desk import decide as deciding
from sms_gateway.desk.i18n import digits
from sms_gateway.outbox import utcnow
from storage.models import OutboundMessage, Request
from storage.staff import AuditEntry, DeskDecision
from tests.desk.conftest import Desk
from tests.desk.support import PASSWORD, WRAP, flagged_request, status_of, token


def test_nothing_without_a_login(desk: Desk) -> None:
    client = desk.client()
    for path in ("/", "/requests/1", "/search?q=1", "/stats", "/stats.csv", "/audit", "/users"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/login"), path
    assert client.post("/requests/1/decide", data={"action": "approve"}).status_code in (302, 400)


def test_a_login_page_sets_a_safe_cookie_and_locks_after_failures(desk: Desk) -> None:
    client = desk.client()
    page = client.get("/login").get_data(as_text=True)
    for _ in range(5):
        assert (
            client.post(
                "/login", data={"name": "rita", "password": "wrong-password", "csrf_token": token(page)}
            ).status_code
            == 401
        )
    locked = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf_token": token(page)})
    assert locked.status_code == 401 and "قفل" in locked.get_data(as_text=True)
    fresh = desk.client()
    page = fresh.get("/login").get_data(as_text=True)
    ok = fresh.post("/login", data={"name": "rob", "password": PASSWORD, "csrf_token": token(page)})
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_a_form_without_the_csrf_token_is_refused(desk: Desk) -> None:
    client = desk.client()
    answer = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf_token": "forged"})
    assert answer.status_code == 400


def test_roles(desk: Desk) -> None:
    request_id = flagged_request(desk.services.db, utcnow(), "100000000018")
    auditor, reviewer, admin = desk.client("aud"), desk.client("rita"), desk.client("ada")
    page = auditor.get(f"/requests/{request_id}")
    assert page.status_code == 200 and 'id="approve"' not in page.get_data(as_text=True)
    answer = auditor.post(
        f"/requests/{request_id}/decide", data={"action": "approve", "csrf_token": token(page.get_data(as_text=True))}
    )
    assert answer.status_code == 403 and status_of(desk.services.db, request_id) == "under_review"
    assert auditor.get("/audit").status_code == 200 and auditor.get("/users").status_code == 403
    assert reviewer.get("/audit").status_code == 403 and admin.get("/users").status_code == 200
    masked = reviewer.get(f"/requests/{request_id}").get_data(as_text=True)
    assert digits(WRAP["national_id"], "fa") not in masked and "******۰۰۰۳" in masked
    page = reviewer.get(f"/requests/{request_id}").get_data(as_text=True)
    shown = reviewer.post(f"/requests/{request_id}/reveal", data={"what": "national_id", "csrf_token": token(page)})
    assert digits(WRAP["national_id"], "fa") in shown.get_data(as_text=True)
    own = token(auditor.get(f"/requests/{request_id}").get_data(as_text=True))
    assert auditor.post(f"/requests/{request_id}/reveal", data={"what": "mobile", "csrf_token": own}).status_code == 403
    with desk.services.db() as db:
        assert db.scalar(select(AuditEntry.actor).where(AuditEntry.action == "reveal")) == "rita"


def test_a_reviewer_approves_once_and_one_sms_is_owed(desk: Desk) -> None:
    request_id = flagged_request(desk.services.db, utcnow(), "100000000026")
    reviewer = desk.client("rita")
    page = reviewer.get(f"/requests/{request_id}").get_data(as_text=True)
    answer = reviewer.post(f"/requests/{request_id}/decide", data={"action": "approve", "csrf_token": token(page)})
    assert answer.status_code == 302
    with desk.services.db() as db:
        row = db.get(Request, request_id)
        owed = list(db.scalars(select(OutboundMessage).where(OutboundMessage.event_key.like("decision:%"))))
        assert row.status == "bill_issued" and valid_payment_id(row.bill_id, row.payment_id) and row.bill_amount
        assert [m.body for m in owed] == [
            desk.services.rules.catalogue.text(
                "sms_bill_issued",
                "fa",
                tracking="100000000026",
                amount=f"{row.bill_amount:,}",
                payment_id=row.payment_id,
            )
        ]
        assert db.scalar(select(DeskDecision.decided_by)) == "rita"
        assert {"login", "decision"} <= set(db.scalars(select(AuditEntry.action)))
    assert Queue("kontor", connection=desk.services.redis).job_ids == [f"deliver-{owed[0].id}"]  # the one delivery
    again = reviewer.post(
        f"/requests/{request_id}/decide",
        data={"action": "reject", "reason": "duplicate_request", "csrf_token": token(page)},
        follow_redirects=True,
    )
    assert "کارشناس دیگری" in again.get_data(as_text=True)


def test_two_reviewers_at_once_make_one_decision(desk: Desk) -> None:
    request_id = flagged_request(desk.services.db, utcnow(), "100000000034")
    results: list[deciding.Result] = []
    start = threading.Barrier(2)

    def decide(action: str, reason: str, who: str) -> None:
        start.wait()
        results.append(deciding.decide(desk.services, request_id, action, reason, "", who, utcnow()))

    threads = [
        threading.Thread(target=decide, args=("approve", "", "rita")),
        threading.Thread(target=decide, args=("reject", "duplicate_request", "rob")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.done for r in results) == [False, True]
    with desk.services.db() as db:
        assert len(list(db.scalars(select(DeskDecision)))) == 1
        assert len(list(db.scalars(select(OutboundMessage).where(OutboundMessage.event_key.like("decision:%"))))) == 1
