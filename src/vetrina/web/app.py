"""create_app(): the FastAPI application, a thin shell over the domain packages."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

import vetrina
from vetrina.accounts import sign_ins
from vetrina.context import Context
from vetrina.live.hub import STREAMS_PER_ADDRESS, LiveHub
from vetrina.web.api import (
    account,
    ads,
    analytics,
    autotag,
    channels,
    commerce,
    events,
    licences,
    live,
    money_admin,
    partners,
    payments,
    payouts,
    products,
    revenue,
    sessions,
    shoppable,
    studio,
    subtitles,
    system,
    videos,
    webhooks,
)
from vetrina.web.api.live import count_live_viewers
from vetrina.web.browser_safety import BrowserSafety
from vetrina.web.language import RequestLanguage
from vetrina.web.limits import BodySizeLimit
from vetrina.web.metrics import install_metrics
from vetrina.web.metrics import router as metrics_router
from vetrina.web.pages import account as account_page
from vetrina.web.pages import ads as ad_pages
from vetrina.web.pages import analytics as analytics_page
from vetrina.web.pages import campaigns as campaign_pages
from vetrina.web.pages import dashboards as dashboard_pages
from vetrina.web.pages import discovery as discovery_pages
from vetrina.web.pages import live as live_page
from vetrina.web.pages import partner as partner_page
from vetrina.web.pages import payouts as payout_pages
from vetrina.web.pages import reconciliation as reconciliation_page
from vetrina.web.pages import routes as pages
from vetrina.web.pages import shop
from vetrina.web.pages import simid as simid_page
from vetrina.web.pages import studio as studio_page
from vetrina.web.pages import tags as tag_pages
from vetrina.web.problems import install_problem_handlers
from vetrina.web.templating import render
from vetrina.web.uploads import UploadGate, upload_routes

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
# JSON and form bodies; upload routes raise their own limit.
DEFAULT_MAX_BODY = 1024 * 1024


def vendor_dir() -> Path:
    """Where npm installed the front-end packages (node_modules at the project root)."""
    return Path(vetrina.__file__).resolve().parents[2] / "node_modules"


def create_app(ctx: Context, run_worker: bool = False) -> FastAPI:
    """The app over `ctx`; with `run_worker`, job workers run as threads of this process."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_worker:
            ctx.queue.start_in_process()
        # What start-up made (modules, the app, caches) lives as long as the process: kept out of the
        # collector's full passes, which would otherwise walk it all and pause every request meanwhile.
        gc.collect()
        gc.freeze()
        counting = asyncio.create_task(count_live_viewers(app.state.live_hub, ctx.db))
        try:
            yield
        finally:
            counting.cancel()
            app.state.live_hub.close()
            ctx.queue.stop_in_process()
            sign_ins.write_token_uses(ctx)  # the last-used stamps still unwritten

    app = FastAPI(
        title="Vetrina",
        version=vetrina.__version__,
        summary="Self-hosted shoppable video streaming.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    per_address = STREAMS_PER_ADDRESS if ctx.settings.rate_limits_enabled else None
    app.state.live_hub = LiveHub(ctx.settings.redis_url, f"{ctx.settings.queue_name}:live-events", per_address)
    install_problem_handlers(app, html_error_page)
    uploads = upload_routes(ctx.settings)
    app.add_middleware(UploadGate, routes=uploads, html_page=html_error_page)
    app.add_middleware(
        BodySizeLimit,
        default_max=DEFAULT_MAX_BODY,
        route_max=[(route.method, route.path, route.max_bytes) for route in uploads],
    )

    app.add_middleware(BrowserSafety, settings=ctx.settings)

    app.add_middleware(RequestLanguage, default_language=ctx.settings.default_language)
    install_metrics(app, ctx)  # outermost: times the whole request
    # FastAPI tries routes one by one, in this order: the busiest (health, checkout, timelines, ad decisions)
    # come first: matching past a hundred routes took a sixth of a checkout request's samples in a profile.
    app.include_router(system.router)
    app.include_router(commerce.router)
    app.include_router(shoppable.router)
    app.include_router(ads.router)
    app.include_router(metrics_router)
    app.include_router(videos.router)
    app.include_router(subtitles.router)
    app.include_router(products.router)
    app.include_router(channels.router)
    app.include_router(autotag.router)
    app.include_router(licences.router)
    app.include_router(live.router)
    app.include_router(revenue.router)
    app.include_router(partners.router)
    app.include_router(payments.router)
    app.include_router(money_admin.router)
    app.include_router(payouts.router)
    app.include_router(webhooks.router)
    app.include_router(events.router)
    app.include_router(analytics.router)
    app.include_router(studio.router)
    app.include_router(account.router)
    app.include_router(sessions.router)
    app.include_router(pages.router)
    app.include_router(shop.router)
    app.include_router(studio_page.router)
    app.include_router(tag_pages.router)
    app.include_router(ad_pages.router)
    app.include_router(campaign_pages.router)
    app.include_router(partner_page.router)
    app.include_router(payout_pages.router)
    app.include_router(analytics_page.router)
    app.include_router(dashboard_pages.router)
    app.include_router(reconciliation_page.router)
    app.include_router(account_page.router)
    app.include_router(live_page.router)
    app.include_router(discovery_pages.router)
    app.include_router(simid_page.router)
    # uPlot draws the charts (static/charts.js); mounted before hls.js's /static/vendor, which would take its paths.
    app.mount(
        "/static/vendor/uplot", StaticFiles(directory=vendor_dir() / "uplot" / "dist", check_dir=False), name="uplot"
    )
    app.mount("/static/vendor", StaticFiles(directory=_hls_dist(), check_dir=False), name="vendor")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def html_error_page(request: Request, status: int, title: str, detail: str) -> Response:
    """A problem as a page, for browsers."""
    return render(request, "error.html", status_code=status, title=title, detail=detail)


def create_app_from_env() -> FastAPI:
    """The app of one `vetrina serve --workers N` process, built from VETRINA_* settings."""
    from vetrina.runtime import build_context

    ctx = build_context(migrate=False)
    return create_app(ctx, run_worker=ctx.settings.in_process_worker)


def _hls_dist() -> Path:
    dist = vendor_dir() / "hls.js" / "dist"
    if not dist.is_dir():
        log.warning("hls.js is not installed (run `npm ci`); browsers without native HLS cannot play")
    return dist
