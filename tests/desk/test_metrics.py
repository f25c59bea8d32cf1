"""`/metrics`: the Prometheus text format, read from SQL and Redis, moving as requests are stored and decided."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from sms_gateway.desk import decide as deciding
from sms_gateway.metrics import wsgi_app
from sms_gateway.outbox import utcnow
from tests.desk.conftest import Desk
from tests.desk.support import flagged_request


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for s in family.samples
    }


def test_metrics_move_with_requests_and_decisions(desk: Desk) -> None:
    client = Client(wsgi_app(desk.services))
    before = scrape(client)
    assert before[("kontor_scrape_error", (("source", "sql"),))] == 0
    assert before[("kontor_queue_depth", (("queue", "kontor"),))] == 0
    request_id = flagged_request(desk.services.db, utcnow(), "100000000091")
    review = ("kontor_requests", (("channel", "sms"), ("status", "under_review")))
    assert scrape(client)[review] == before.get(review, 0) + 1
    assert deciding.decide(desk.services, request_id, "reject", "duplicate_request", "", "rob", utcnow()).done
    after = scrape(client)
    assert after[("kontor_requests", (("channel", "sms"), ("status", "rejected")))] == 1
    assert after[("kontor_outbound_messages", (("gateway", "none"), ("status", "pending")))] == 1
    assert after[("kontor_desk_decisions", (("action", "reject"),))] == 1
    assert after[("kontor_queue_depth", (("queue", "kontor"),))] == 1  # the decision SMS waits for a worker
