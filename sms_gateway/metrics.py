"""`kontor metrics`: Prometheus /metrics on an operator's address (`metrics.host:port`), never on the webhook.

Two sources: what SQL and Redis hold at each scrape (requests by status and channel, owed SMS by gateway and
status, desk decisions, queue depth, failed jobs), and the per-process counters every web, worker, desk and smpp
process of the instance writes into PROMETHEUS_MULTIPROC_DIR (sms_gateway/counters.py, adapters/telemetry.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select
from werkzeug.serving import make_server

from sms_gateway.runtime import Services
from storage.models import OutboundMessage, Request
from storage.staff import DeskDecision

log = logging.getLogger("kontor.metrics")


class StateCollector(Collector):
    """Each scrape counts what SQL and Redis hold now; a source that is down shows as kontor_scrape_error."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily("kontor_scrape_error", "1 when a source could not be read", labels=["source"])
        for source, read in (("sql", self._sql), ("redis", self._redis)):
            try:
                yield from read()
                errors.add_metric([source], 0)
            except Exception as exc:  # noqa: BLE001  # a scrape must answer whatever failed; the error is a metric
                log.warning("metrics: %s unreadable: %s", source, exc)
                errors.add_metric([source], 1)
        yield errors

    def _sql(self) -> list[Metric]:
        queries: list[tuple[str, str, list[str], Any]] = [
            (
                "kontor_requests",
                "stored requests by status and channel",
                ["status", "channel"],
                select(Request.status, Request.channel, func.count()).group_by(Request.status, Request.channel),
            ),
            (
                "kontor_outbound_messages",
                "owed SMS by gateway and delivery status",
                ["gateway", "status"],
                select(OutboundMessage.provider, OutboundMessage.status, func.count()).group_by(
                    OutboundMessage.provider, OutboundMessage.status
                ),
            ),
            (
                "kontor_desk_decisions",
                "reviewers' decisions by action",
                ["action"],
                select(DeskDecision.action, func.count()).group_by(DeskDecision.action),
            ),
        ]
        out: list[Metric] = []
        with self.services.reader() as db:
            for name, text, labels, query in queries:
                family = GaugeMetricFamily(name, text, labels=labels)
                for *values, count in db.execute(query):
                    family.add_metric([str(v) or "none" for v in values], count)
                out.append(family)
        return out

    def _redis(self) -> list[Metric]:
        depth = GaugeMetricFamily("kontor_queue_depth", "jobs waiting in each RQ queue", labels=["queue"])
        failed = GaugeMetricFamily("kontor_failed_jobs", "jobs that used up their retries", labels=["queue"])
        for queue in (self.services.queue, self.services.followup):
            depth.add_metric([queue.name], queue.count)
            failed.add_metric([queue.name], FailedJobRegistry(queue=queue).count)
        return [depth, failed]


def wsgi_app(services: Services) -> Callable[..., Any]:
    """/metrics (any path, as prometheus_client answers) in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(services))
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:  # every process's counters, summed (a fresh registry: not the default one, per prometheus_client)
        multiprocess.MultiProcessCollector(registry, folder)  # type: ignore[no-untyped-call]  # prometheus_client's multiprocess module is unannotated
    return make_wsgi_app(registry)


def serve(services: Services) -> None:
    """`kontor metrics`: serve in the foreground until SIGTERM."""
    settings = services.settings.metrics
    server = make_server(settings.host, settings.port, wsgi_app(services), threaded=True)
    print(f"Kontor metrics: http://{settings.host}:{settings.port}/metrics", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
