"""The desk in a real browser: login, CSRF, roles, a flagged request from a real conversation approved (one SMS
with a valid payment ID) or rejected (INQUIRE shows it), two reviewers at once, a <script> shown as text."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from dialogs.ids import valid_payment_id
from sms_gateway.desk.stats import SEASONS
from sms_gateway.runtime import catalogue
from storage.staff import DeskDecision
from tests.browser.conftest import PASSWORD, DeskStack

CAT = catalogue()
WRAP_PHONE, WRAP_BILL, WRAP_NID = "+989131234567", "5678901204122", "1234560003"
Snap = Callable[[Any, str], Path]


def wait_for_sms(desk: DeskStack, phone: str, count: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(desk.twilio.to(phone)) >= count:
            return desk.twilio.to(phone)
        time.sleep(0.05)
    raise AssertionError(f"no SMS #{count} to {phone}; got {desk.twilio.to(phone)}")


def flagged_by_conversation(desk: DeskStack, description: str = "0") -> str:
    """A real subscriber's conversation: a meter that rolled over, confirmed with `1`, goes under review."""
    before = len(desk.twilio.to(WRAP_PHONE))
    stack = desk.stack
    for answer in ("قرائت", WRAP_BILL, WRAP_NID):
        stack.sms(WRAP_PHONE, answer)
    assert stack.sms(WRAP_PHONE, "00040") == [CAT.text("ask_wrap", "fa", value="00040", last="99950")]
    for answer in ("1", "0", description, "0"):
        stack.sms(WRAP_PHONE, answer)
    assert stack.sms(WRAP_PHONE, "1") == [CAT.text("confirmed", "fa")]
    tracking_sms, outcome = wait_for_sms(desk, WRAP_PHONE, before + 2)[-2:]
    tracking = re.search(r"\d{12}", tracking_sms).group(0)  # type: ignore[union-attr]
    assert outcome == CAT.text("sms_under_review", "fa", tracking=tracking)
    return tracking


@pytest.fixture()
def context(browser: Any) -> Iterator[Any]:
    made = browser.new_context(viewport={"width": 420, "height": 900}, locale="fa-IR")
    yield made
    made.close()


def log_in(context: Any, desk: DeskStack, name: str) -> Any:
    page = context.new_page()
    page.goto(desk.url + "login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url(desk.url)
    return page


def open_request(page: Any, desk: DeskStack, tracking: str) -> None:
    page.goto(desk.url)
    page.click(f"text={tracking.translate(str.maketrans('0123456789', '۰۱۲۳۴۵۶۷۸۹'))}")
    page.wait_for_selector("#tracking")


def decisions(desk: DeskStack, tracking: str) -> int:
    with desk.engine.connect() as db:
        request_id = db.execute(text("SELECT id FROM requests WHERE tracking_number = :t"), {"t": tracking}).scalar()
        return int(
            db.execute(
                select(func.count()).select_from(DeskDecision).where(DeskDecision.request_id == request_id)
            ).scalar()
            or 0
        )


def test_log_in_and_out(desk_stack: DeskStack, context: Any, snap: Snap) -> None:
    page = context.new_page()
    page.goto(desk_stack.url)
    assert page.url.endswith("/login") and page.get_attribute("html", "dir") == "rtl"
    page.fill("input[name=name]", "rita")
    page.fill("input[name=password]", "not-the-password")
    page.click("#login button[type=submit]")
    assert "نادرست" in page.inner_text("[role=alert]")
    snap(page, "login-refused")
    page = log_in(context, desk_stack, "rita")
    assert page.inner_text("h1") == "صف بررسی"
    snap(page, "queue")
    page.click("#logout")
    page.wait_for_url(desk_stack.url + "login")
    page.goto(desk_stack.url)
    assert page.url.endswith("/login")


def test_a_wrong_csrf_token_is_refused(desk_stack: DeskStack, browser: Any, snap: Snap) -> None:
    tracking = flagged_by_conversation(desk_stack)
    context = browser.new_context(bypass_csp=True)
    try:
        page = log_in(context, desk_stack, "rita")
        open_request(page, desk_stack, tracking)
        page.eval_on_selector_all("input[name=csrf_token]", "els => els.forEach(e => e.value = 'forged')")
        page.click("#approve")
        assert "فرم منقضی یا نامعتبر" in page.inner_text("#error")
        snap(page, "csrf-refused")
        assert decisions(desk_stack, tracking) == 0
    finally:
        context.close()


def test_an_auditor_cannot_decide(desk_stack: DeskStack, context: Any, snap: Snap) -> None:
    tracking = flagged_by_conversation(desk_stack)
    page = log_in(context, desk_stack, "aud")
    open_request(page, desk_stack, tracking)
    assert page.query_selector("#approve") is None and page.query_selector("#reveal-national_id") is None
    token = page.get_attribute("input[name=csrf_token]", "value")
    answer = page.request.post(page.url + "/decide", form={"action": "approve", "csrf_token": token})
    assert answer.status == 403 and decisions(desk_stack, tracking) == 0
    page.goto(desk_stack.url + "users")
    assert "این صفحه برای نقش شما نیست" in page.inner_text("#error")
    snap(page, "auditor-forbidden")


def test_a_flagged_request_is_approved_and_one_sms_carries_the_bill(
    desk_stack: DeskStack, context: Any, snap: Snap
) -> None:
    tracking = flagged_by_conversation(desk_stack)
    before = len(desk_stack.twilio.to(WRAP_PHONE))
    page = log_in(context, desk_stack, "rita")
    row = page.locator("tr", has_text=tracking.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")))
    assert row.count() == 1 and "در بررسی" in row.inner_text()
    snap(page, "queue-with-flagged")
    open_request(page, desk_stack, tracking)
    assert "******" in page.inner_text("#national_id")
    page.click("#reveal-national_id")
    assert page.inner_text("#national_id") == WRAP_NID.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    snap(page, "request")
    page.click("#approve")
    assert "تصمیم ثبت شد" in page.inner_text(".flash")
    snap(page, "approved")
    sms = wait_for_sms(desk_stack, WRAP_PHONE, before + 1)[-1]
    time.sleep(1.5)  # nothing else may follow
    assert len(desk_stack.twilio.to(WRAP_PHONE)) == before + 1
    match = re.fullmatch(r"صورتحساب خارج از دوره (\d{12}): مبلغ ([\d,]+) ریال، شناسه پرداخت (\d+)", sms)
    assert match and match.group(1) == tracking and int(match.group(2).replace(",", "")) > 0
    assert valid_payment_id(WRAP_BILL, match.group(3))
    status = desk_stack.stack.sms(WRAP_PHONE, f"پیگیری {tracking}")
    assert status == [
        CAT.text("status_bill", "fa", tracking=tracking, amount=match.group(2), payment_id=match.group(3))
    ]


def test_a_rejection_with_a_reason_reaches_the_subscriber_and_inquire(
    desk_stack: DeskStack, context: Any, snap: Snap
) -> None:
    tracking = flagged_by_conversation(desk_stack)
    before = len(desk_stack.twilio.to(WRAP_PHONE))
    page = log_in(context, desk_stack, "rob")
    open_request(page, desk_stack, tracking)
    page.select_option("#reject-reason", "duplicate_request")
    page.fill("#reject-note", "همان درخواست دیروز")
    page.click("#reject")
    assert "رد شد" in page.inner_text("#status")
    snap(page, "rejected")
    sms = wait_for_sms(desk_stack, WRAP_PHONE, before + 1)[-1]
    assert sms == CAT.text("sms_rejected", "fa", tracking=tracking, reason=CAT.text("reason_duplicate_request", "fa"))
    reply = desk_stack.stack.sms(WRAP_PHONE, f"پیگیری {tracking}")[0]
    assert reply.startswith(f"{tracking}: {CAT.status('rejected', 'fa')}")


def test_two_reviewers_at_once_make_one_decision(desk_stack: DeskStack, browser: Any, snap: Snap) -> None:
    tracking = flagged_by_conversation(desk_stack)
    before = len(desk_stack.twilio.to(WRAP_PHONE))
    contexts = [browser.new_context(), browser.new_context()]
    try:
        pages = [log_in(contexts[0], desk_stack, "rita"), log_in(contexts[1], desk_stack, "rob")]
        for page in pages:
            open_request(page, desk_stack, tracking)
        buttons = ("#approve", "#reject")
        for page, button in zip(pages, buttons, strict=True):  # both forms submitted before either answers
            page.eval_on_selector(button, "b => b.form.requestSubmit(b)")
        for page in pages:
            page.wait_for_selector(".flash")
        flashes = sorted(page.inner_text(".flash") for page in pages)
        assert any("تصمیم ثبت شد" in f for f in flashes) and any("کارشناس دیگری" in f for f in flashes), flashes
        for n, page in enumerate(pages):
            snap(page, f"reviewer-{n}")
        assert decisions(desk_stack, tracking) == 1
        wait_for_sms(desk_stack, WRAP_PHONE, before + 1)
        time.sleep(1.5)
        assert len(desk_stack.twilio.to(WRAP_PHONE)) == before + 1
    finally:
        for made in contexts:
            made.close()


def test_a_script_in_the_description_is_shown_as_text(desk_stack: DeskStack, context: Any, snap: Snap) -> None:
    script = f"<script>document.title='owned-{uuid.uuid4().hex[:6]}'</script>"
    tracking = flagged_by_conversation(desk_stack, description=script)
    page = log_in(context, desk_stack, "rita")
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    open_request(page, desk_stack, tracking)
    assert page.inner_text("#description") == script
    assert "owned" not in page.title() and not dialogs
    snap(page, "script-as-text")


def test_search_statistics_audit_and_the_english_switch(desk_stack: DeskStack, context: Any, snap: Snap) -> None:
    tracking = flagged_by_conversation(desk_stack)
    page = log_in(context, desk_stack, "aud")
    page.goto(desk_stack.url + f"search?q={WRAP_PHONE.replace('+98', '0')}")
    assert page.locator("tr", has_text=tracking.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))).count() == 1
    page.goto(desk_stack.url + "stats?by=season")
    table = page.inner_text("#stats")
    assert page.locator("svg.chart").count() == 2 and any(season in table for season in SEASONS["fa"])
    snap(page, "stats-fa")
    page.click("a.lang")
    assert page.get_attribute("html", "dir") == "ltr" and page.inner_text("h1") == "Statistics"
    assert page.locator("#stats tbody tr").last.inner_text().startswith("all")
    snap(page, "stats-en")
    page.goto(desk_stack.url + "audit")
    assert "login" in page.inner_text("#audit") and "user_added" in page.inner_text("#audit")
    snap(page, "audit-en")
