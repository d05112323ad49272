"""GET /metrics, on [http] listen, with prometheus-client.

/metrics is Prometheus's text format. From the database, read at each scrape, the cluster's
figures (every daemon on one database reports the same: alert on one, or on max()):

    gateway_queue_depth{queue}                    items waiting in each queue
    gateway_queue_oldest_age_seconds{queue}       how long the oldest of them has waited
    gateway_messages_in_total{outcome}            mail handled, by what it was (resident_new, ...)
    gateway_messages_out_total{purpose,outcome}   mail sent, failed or skipped
    gateway_bounces_total{reason}                 delivery reports, by reason
    gateway_cases{status}                         cases by status
    gateway_cases_due_soon, gateway_cases_overdue open cases due by the next working day / past due
    gateway_acks_waiting                          acknowledgements held back by acks_per_hour
    gateway_urgent_open                           open cases flagged urgent
    gateway_urgent_unseen_seconds                 the oldest urgent case nobody has answered or
                                                  marked #seen: how long it has waited (0: none)

(the *_total figures are counts of what the database holds, so a retention purge lowers
them, which Prometheus's rate() takes as a counter reset). From this daemon alone:

    gateway_delivery_attempts_total{outcome}      sent, retry, failed: each attempt to send
    gateway_pipeline_restarts_total               times the pipeline process was restarted
    gateway_up                                    1 while /healthz would say ok
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable

from aiohttp import web

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from gateway import db
from gateway.clock import Clock
from gateway.config import Settings

__all__ = ["Metrics", "routes"]
log = logging.getLogger(__name__)
disable_created_metrics()   # no *_created series: they only double what a scrape shows


class _Database:
    """A prometheus-client collector that reads the database at each scrape."""

    def __init__(self, settings: Settings, clock: Clock, health: Callable[[], list[str]], restarts: Callable[[], int]):
        self.settings, self.clock, self.health, self.restarts = settings, clock, health, restarts

    def collect(self) -> Iterable:
        now = self.clock.now()
        calendar = self.settings.calendar
        today = calendar.local(now).date()
        figures = db.health.figures(now, today, calendar.add_working_days(today, 1))
        depth = GaugeMetricFamily("gateway_queue_depth", "Items waiting in each queue.", labels=["queue"])
        age = GaugeMetricFamily("gateway_queue_oldest_age_seconds", "How long the oldest item in each queue has waited.",
                                labels=["queue"])
        for name, (count, oldest) in figures.queues.items():
            depth.add_metric([name], count)
            age.add_metric([name], oldest)
        yield depth
        yield age
        came = CounterMetricFamily("gateway_messages_in", "Mail handled by the pipeline, by what it was.",
                                   labels=["outcome"])
        for outcome, count in sorted(figures.messages_in.items()):
            came.add_metric([outcome], count)
        yield came
        went = CounterMetricFamily("gateway_messages_out", "Mail sent, failed or skipped, by purpose.",
                                   labels=["purpose", "outcome"])
        for (purpose, outcome), count in sorted(figures.messages_out.items()):
            went.add_metric([purpose, outcome], count)
        yield went
        bounces = CounterMetricFamily("gateway_bounces", "Delivery reports received, by reason.", labels=["reason"])
        for reason, count in sorted(figures.bounces.items()):
            bounces.add_metric([reason], count)
        yield bounces
        cases = GaugeMetricFamily("gateway_cases", "Cases by status.", labels=["status"])
        for status in ("open", "waiting", "answered", "closed"):
            cases.add_metric([status], figures.cases.get(status, 0))
        yield cases
        yield GaugeMetricFamily("gateway_cases_due_soon", "Open cases due today or the next working day.",
                                value=figures.due_soon)
        yield GaugeMetricFamily("gateway_cases_overdue", "Open cases past their due date.", value=figures.overdue)
        yield GaugeMetricFamily("gateway_urgent_open", "Open cases flagged urgent (someone may be in danger now).",
                                value=figures.urgent_open)
        yield GaugeMetricFamily("gateway_urgent_unseen_seconds", "How long the oldest urgent case that nobody has "
                                "answered or marked #seen has waited (0: none).", value=figures.urgent_unseen_seconds)
        yield GaugeMetricFamily("gateway_acks_waiting", "Acknowledgements held back by [limits] acks_per_hour.",
                                value=figures.acks_waiting)
        yield CounterMetricFamily("gateway_pipeline_restarts", "Times this daemon restarted its pipeline process.",
                                  value=self.restarts())
        yield GaugeMetricFamily("gateway_up", "1 while this daemon is healthy (/healthz).",
                                value=0 if self.health() else 1)


class Metrics:
    """This daemon's registry: its own counters, and the database's figures at each scrape.
    `health()` gives the reasons it is not healthy (none: healthy)."""

    def __init__(self, settings: Settings, clock: Clock, health: Callable[[], list[str]],
                 restarts: Callable[[], int] = lambda: 0):
        self.registry = CollectorRegistry()
        self.attempts = Counter("gateway_delivery_attempts", "Attempts to send mail by this daemon, by outcome.",
                                ["outcome"], registry=self.registry)
        for outcome in ("sent", "retry", "failed"):
            self.attempts.labels(outcome)
        self.registry.register(_Database(settings, clock, health, restarts))

    def tally(self, outcome: str) -> None:
        self.attempts.labels(outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def routes(server) -> list[web.RouteDef]:
    async def metrics_page(request: web.Request) -> web.Response:
        if server.metrics is None:
            raise web.HTTPNotFound()
        try:
            body = await asyncio.to_thread(server.metrics.exposition)
        except Exception as exc:   # the database down: say so, as a scrape failure
            log.warning("/metrics: could not read the figures: %s", exc)
            return web.Response(status=503, text=f"could not read the figures: {exc}\n")
        response = web.Response(body=body)
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response

    return [web.get("/metrics", metrics_page)]
