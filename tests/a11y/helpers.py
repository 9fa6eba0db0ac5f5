"""Helpers of the accessibility and phone tests: the app's HTML pages, worlds of accounts and objects to visit them
with, axe-core run inside a page, and screenshots kept as test artefacts."""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from starlette.routing import Mount

from tests.ads.helpers import fund, linear
from tests.commerce.helpers import order
from tests.e2e.helpers import shop_the_look
from tests.helpers import PASSWORD, Account, finished_run_with_proposal, ready_video_row, serve_overlay_ad
from tests.studio.helpers import photo_bytes
from vetrina.accounts.models import Role
from vetrina.context import Context

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
# What the issue asks to be zero on every page; "moderate" and "minor" findings are printed, not failed.
BLOCKING = ("serious", "critical")
ROLES = ("anonymous", "buyer", "merchant", "partner", "admin")


def html_page_routes(app: FastAPI) -> set[str]:
    """The path templates of every GET route that answers an HTML page (its response_class is HTMLResponse),
    walking the routers as included (as tests/web/authz_helpers.app_routes does)."""

    def walk(routes: list[Any], prefix: str) -> Iterator[str]:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:
                yield from walk(included.routes, prefix + route.include_context.prefix)
            elif not isinstance(route, Mount) and "GET" in (route.methods or ()):
                answers = getattr(route, "response_class", None)
                if inspect.isclass(answers) and issubclass(answers, HTMLResponse):
                    yield prefix + route.path

    return set(walk(app.router.routes, ""))


@dataclass
class World:
    """A served site, its accounts by role (anonymous has none) and the ids path parameters name."""

    url: str
    accounts: dict[str, Account]
    ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Visit:
    """One page to check: the route it stands for (None: not a route, e.g. the error page), who looks, and its path
    with `{name}` placeholders filled from the world's ids."""

    route: str | None
    role: str
    path: str

    def url(self, world: World) -> str | None:
        """The page's address in `world`, or None when the world has no object for one of its placeholders."""
        names = re.findall(r"\{(\w+)\}", self.path)
        if any(name not in world.ids for name in names):
            return None
        return world.url + self.path.format(**world.ids)


def build_shop_world(url: str, ctx: Context, make_account: Any, media_dir: Path) -> World:
    """A shop with something on every page: the merchant's products with photos and a ready 12 s video with two
    tagged products, a processing video, an autotag proposal, a paid order of the buyer's, a linear campaign and an
    overlay card (served once, so its SIMID creative exists), a payout asked for, a scheduled live show, a partner
    with a feed, and an admin."""
    merchant, buyer, video_id, shirt, mug = shop_the_look(url, make_account, media_dir)
    partner, admin = make_account(Role.partner), make_account(Role.admin)
    ids = {"video_id": str(video_id), "product_id": str(shirt["id"]), "unknown_id": "987654321"}
    with httpx.Client(base_url=url, timeout=30) as http:

        def ok(response: httpx.Response) -> dict[str, Any]:
            assert response.is_success, (response.status_code, response.text)
            return response.json()

        for product, colour in ((shirt, (200, 80, 60)), (mug, (60, 120, 200))):
            photo = {"file": ("p.jpg", photo_bytes(colour, size=(320, 320)), "image/jpeg")}
            ok(http.post(f"/api/v1/products/{product['id']}/images", headers=merchant.auth, files=photo))
        ids["handle"] = ok(http.get("/api/v1/me/channel", headers=merchant.auth))["handle"]
        placed = order(http, buyer, mug["id"])
        ok(http.post(f"/api/v1/orders/{placed['id']}/pay", headers=buyer.auth, json={}))
        fund(ctx, merchant)
        ids["campaign_id"] = str(ok(http.post("/api/v1/campaigns", headers=merchant.auth, json=linear(video_id)))["id"])
        ok(http.put("/api/v1/payouts/account", headers=merchant.auth, json={"bank_details": "IBAN DE89 3704 0044"}))
        ok(http.post("/api/v1/payouts", headers=merchant.auth, json={"amount": {"amount": 1000, "currency": "EUR"}}))
        show = {"title": "Spring show", "product_ids": [shirt["id"], mug["id"]]}
        ids["show_id"] = str(ok(http.post("/api/v1/live", headers=merchant.auth, json=show))["id"])
        feed = {"name": "Catalogue", "url": "https://93.184.215.14/catalogue.xml"}
        ok(http.post("/api/v1/partners/feeds", headers=partner.auth, json=feed))
        with ctx.db.session(write=True) as session:
            processing = ready_video_row(merchant.user.id, title="Still cooking", status="processing", progress=0.4)
            session.add(processing)
            finished_run_with_proposal(session, video_id, merchant.user.id, shirt["id"], 4, 8)
            ids["processing_video_id"] = str(processing.id)
        ids["decision_id"] = serve_overlay_ad(http, ctx, merchant, video_id, mug["id"]).ad.ad_serving_id
    roles = {"buyer": buyer, "merchant": merchant, "partner": partner, "admin": admin}
    return World(url, roles, ids)


def build_empty_world(url: str, make_account: Any) -> World:
    """Fresh accounts that have made nothing: every list empty. Pages of objects exist only for the merchant's own
    channel (every merchant has one) and the error page."""
    roles = {
        "buyer": make_account(Role.viewer),
        "merchant": make_account(Role.merchant),
        "partner": make_account(Role.partner),
        "admin": make_account(Role.admin),
    }
    handle = httpx.get(f"{url}/api/v1/me/channel", headers=roles["merchant"].auth, timeout=30).json()["handle"]
    return World(url, roles, {"handle": handle, "unknown_id": "987654321"})


def signed_in_context(browser: Any, world: World, role: str, **options: Any) -> Any:
    """A browser context of `role` signed in through the login page (anonymous: none). The pages' strict
    Content-Security-Policy would refuse axe's inlined script: bypass_csp is Playwright's way to inject test
    scripts, and the tests never judge the policy itself through such a context."""
    context = browser.new_context(bypass_csp=True, **options)
    if role != "anonymous":
        page = context.new_page()
        page.goto(f"{world.url}/login?next=/account")
        page.fill("input[name=email]", world.accounts[role].user.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url("**/account")
        page.close()
    return context


def settle(page: Any) -> None:
    """Let a page's scripts finish drawing: its network quiet (pages that poll or stream never are for long, so a
    few seconds at most)."""
    with contextlib.suppress(PlaywrightTimeout):  # a page that keeps streaming is checked as it stands
        page.wait_for_load_state("networkidle", timeout=4000)


def axe_findings(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now: each rule's id, impact, help and the nodes it failed on."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary || "",
                                             html: n.html.slice(0, 160) })),
            }));
        }"""
    )


def readable(label: str, findings: list[dict[str, Any]]) -> list[str]:
    """One line per failing node: where, which rule and impact, why."""
    lines = []
    for finding in findings:
        for node in finding["nodes"]:
            why = " ".join(node["summary"].split())[:240]
            lines.append(
                f"{label}: [{finding['impact']}] {finding['id']} ({finding['help']}) at {node['target']}: {why}"
            )
    return lines


def keep_screenshot(page: Any, tmp_path: Path, name: str, **options: Any) -> list[Path]:
    """A screenshot of the page under the test's tmp_path and, when VETRINA_TEST_ARTIFACTS is set, under
    test-artifacts/phone/ at the repository's root; prints and returns their paths."""
    shot = tmp_path / "screenshots" / f"{name}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), **options)
    kept = [shot]
    if os.environ.get("VETRINA_TEST_ARTIFACTS"):
        published = REPO / "test-artifacts" / "phone" / shot.name
        published.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, published)
        kept.append(published)
    for path in kept:
        print(f"screenshot: {path}")
    return kept
