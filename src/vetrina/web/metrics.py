"""GET /metrics in Prometheus' text format: request latency per route, the job queue, transcodes, and the
platform's money (escrow held, commission and advertising earned).

Request latencies and job runs are counted where they happen. With `vetrina serve --workers N` each process
writes its counts to files in `DATA_DIR/metrics` (prometheus_client's multiprocess mode, set up by the
command before the processes start, the folder emptied first), and whichever process answers a scrape adds
them all up. Queue depth, transcodes and money are read from the shared stores at scrape time.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from vetrina.accounts.models import Role, User
from vetrina.context import Context
from vetrina.errors import Forbidden
from vetrina.media.models import Video
from vetrina.payments import ledger
from vetrina.settings import Settings
from vetrina.web.deps import get_context, optional_user

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestTimer:
    """ASGI middleware: each HTTP request's duration, by method, route template and status."""

    def __init__(self, app: Any, histogram: Histogram) -> None:
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The route's template, never the raw path: one series per route, whatever the ids in it.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.histogram.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)


class StoresCollector(Collector):
    """What is read from the database and the queue when Prometheus scrapes."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("vetrina_job_queue_depth", "Jobs waiting in the queue.")
        depth.add_metric([], self.ctx.queue.pending_count())
        yield depth
        with self.ctx.db.session() as session:
            count, seconds = session.execute(
                select(func.count(Video.transcode_seconds), func.coalesce(func.sum(Video.transcode_seconds), 0.0))
            ).one()
            totals = ledger.platform_totals(session)
        transcodes = SummaryMetricFamily("vetrina_transcode_seconds", "Wall time of finished transcodes.")
        transcodes.add_metric([], count_value=count, sum_value=float(seconds or 0))
        yield transcodes
        help_of = {
            "escrow_held": "Buyers' payments held in escrow, in minor units.",
            "commission": "Commission earned, in minor units.",
            "advertising": "Advertising revenue earned, in minor units.",
        }
        for name, by_currency in totals.items():
            gauge = GaugeMetricFamily(f"vetrina_{name}", help_of[name], labels=["currency"])
            for currency, amount in sorted(by_currency.items()):
                gauge.add_metric([currency], amount)
            yield gauge


def share_between_processes(settings: Settings) -> None:
    """Before `vetrina serve --workers N` starts its processes: counts go to files in an emptied folder, which
    the processes find in their environment before they first import prometheus_client."""
    folder = settings.data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)  # a past run's processes are gone; their counts with them
    folder.mkdir(parents=True)
    os.environ[MULTIPROCESS_ENV] = str(folder)


def install_metrics(app: Any, ctx: Context) -> None:
    """One registry per app (tests build many apps): its request timer, job counter and stores collector."""
    registry = CollectorRegistry()
    histogram = Histogram(
        "vetrina_http_request_duration_seconds",
        "HTTP request latency.",
        ["method", "route", "status"],
        registry=registry,
        buckets=LATENCY_BUCKETS,
    )
    _count_jobs(ctx, registry)
    stores = StoresCollector(ctx)
    registry.register(stores)
    if os.environ.get(MULTIPROCESS_ENV):
        # What a scrape reads: every process's files, and the stores.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(stores)
    app.state.metrics_registry = registry
    app.add_middleware(RequestTimer, histogram=histogram)


def _count_jobs(ctx: Context, registry: CollectorRegistry) -> None:
    jobs = Counter("vetrina_jobs", "Jobs run, by outcome.", ["job", "outcome"], registry=registry)
    ctx.queue.observers.append(lambda name, failed: jobs.labels(name, "failed" if failed else "ok").inc())


def serve_worker_metrics(ctx: Context, host: str, port: int) -> None:
    """A `vetrina worker`'s own metrics (the jobs it ran, by outcome) on http://host:port/ for a scraper; the
    stores' figures are the web nodes' to give."""
    registry = CollectorRegistry()
    _count_jobs(ctx, registry)
    start_http_server(port, addr=host, registry=registry)


router = APIRouter(include_in_schema=False)


def _may_scrape(request: Request, user: User | None) -> bool:
    if user is not None and user.role == Role.admin:
        return True
    try:
        peer = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    allowed = get_context(request).settings.metrics_allow
    return any(peer in ipaddress.ip_network(cidr, strict=False) for cidr in allowed)


@router.get("/metrics")
def metrics(request: Request, user: User | None = optional_user) -> Response:
    if not _may_scrape(request, user):
        raise Forbidden("Metrics are for the operator: from an allowed address, or with an admin token.")
    return Response(
        generate_latest(request.app.state.metrics_registry), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
