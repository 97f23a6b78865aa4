"""The controller's own metrics in Prometheus form: one registry per app, and the hooks that fill it.

Each app has its own `CollectorRegistry` (not prometheus-client's global one), so the tests' many
apps in one process never collide. Labels are bounded sets (route endpoints, results, upstreams),
never panel ids or paths: a region's thousands of panels would otherwise make thousands of series.
Per-panel detail stays in the database and the UI; here are sums and maxima.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# From a healthy panel (seconds) to one that was offline over a weekend and catches up (days).
_LAG_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600)


@dataclass
class SpoolReports:
    """The spool depth and dropped count each panel reported in its newest heartbeat."""

    depth: dict[int, int] = field(default_factory=dict)
    dropped: dict[int, int] = field(default_factory=dict)
    made_at: dict[int, float] = field(default_factory=dict)

    def report(self, panel_id: int, made_at: float, depth: Any, dropped: Any) -> None:
        """Keep a heartbeat's report unless a newer one of the panel is held (a resend is older)."""
        if made_at < self.made_at.get(panel_id, float("-inf")):
            return
        self.made_at[panel_id] = made_at
        if _count(depth):
            self.depth[panel_id] = depth
        if _count(dropped):
            self.dropped[panel_id] = dropped


class Metrics:
    """Every metric of one controller; `init_app` wires the request hooks and the live gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram(
            "classcast_http_request_duration_seconds",
            "Time to answer an HTTP request, by route endpoint, method and status",
            ["endpoint", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.casts = Counter("classcast_casts", "Casts sent to a panel, by outcome", ["result"], registry=r)
        self.ingest_batches = Counter(
            "classcast_ingest_batches", "Telemetry batches received, acked or refused", ["result"], registry=r
        )
        self.ingest_events = Counter(
            "classcast_ingest_events",
            "Telemetry events in acked batches: stored, duplicate (a resend) or rejected",
            ["result"],
            registry=r,
        )
        self.ingest_lag = Histogram(
            "classcast_ingest_lag_seconds",
            "From the making of a batch's newest clock-synced event on a panel to the batch's commit here",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.proxy_errors = Counter(
            "classcast_proxy_errors",
            "Failed calls to the main system's services, by upstream and reason",
            ["upstream", "reason"],
            registry=r,
        )
        self.spool = SpoolReports()
        self._spool_gauges(r)
        # Every known label value from the start: a series that appears only at its first event makes
        # rate() blind to that event, and alerts on "absent" fire for nothing.
        for counter, results in (
            (self.casts, ("ok", "failed")),
            (self.ingest_batches, ("acked", "refused")),
            (self.ingest_events, ("stored", "duplicate", "rejected")),
        ):
            for result in results:
                counter.labels(result)

    def _spool_gauges(self, r: CollectorRegistry) -> None:
        spool = self.spool
        Gauge(
            "classcast_panel_spool_events", "Events waiting in panels' spools, summed", registry=r
        ).set_function(lambda: sum(spool.depth.values()))
        Gauge(
            "classcast_panel_spool_events_max", "Events waiting in the fullest panel spool", registry=r
        ).set_function(lambda: max(spool.depth.values(), default=0))
        Gauge(
            "classcast_panel_spool_dropped_events",
            "Events panels dropped (spool full or refused), as they last reported, summed",
            registry=r,
        ).set_function(lambda: sum(spool.dropped.values()))
        Gauge(
            "classcast_panels_reporting_spool", "Panels that reported their spool since start", registry=r
        ).set_function(lambda: len(spool.depth))

    def watch_panels(self, hub: Any) -> None:
        """Expose how many panels hold a command connection right now (read at each scrape)."""
        Gauge(
            "classcast_panels_connected", "Panels with a live command connection", registry=self.registry
        ).set_function(lambda: hub.connected_count)

    def cast_answered(self, answer: Mapping[str, Any]) -> None:
        self.casts.labels("ok" if answer.get("ok") else "failed").inc()

    def batch_refused(self) -> None:
        self.ingest_batches.labels("refused").inc()

    def batch_acked(self, panel_id: int, result: Any, now: float) -> None:
        """Count an acked batch: its events by outcome, its lag, and the spool its heartbeats report."""
        self.ingest_batches.labels("acked").inc()
        self.ingest_events.labels("stored").inc(result.stored)
        self.ingest_events.labels("duplicate").inc(result.duplicates)
        self.ingest_events.labels("rejected").inc(len(result.rejected))
        if result.newest_synced is not None:
            self.ingest_lag.observe(max(0.0, now - result.newest_synced))
        if result.spool is not None:
            self.spool.report(panel_id, *result.spool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def init_app(app: Flask) -> Metrics:
    """Return the app's metrics, made and bound to it: request timing and the connected-panels gauge."""
    svc = app.extensions["classcast"]
    metrics = Metrics()
    metrics.watch_panels(svc.hub)
    svc.metrics = metrics
    app.before_request(_start_timer)
    app.after_request(_observe)
    return metrics


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.get("request_started")
    if started is not None:
        metrics: Metrics = current_app.extensions["classcast"].metrics
        endpoint = request.endpoint or "unmatched"  # a 404 has no endpoint; paths would be unbounded
        metrics.requests.labels(endpoint, request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response
