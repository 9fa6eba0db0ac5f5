"""axe-core on every HTML page of the app in Chromium, as the role that uses it, with a shop's data and with nothing
made yet: no serious or critical violation anywhere (issue 21, part 3). The player is checked again with a product
card over the picture and with the drawer open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.a11y.helpers import (
    BLOCKING,
    ROLES,
    Visit,
    World,
    axe_findings,
    html_page_routes,
    readable,
    settle,
    signed_in_context,
)
from vetrina.web.app import create_app

pytestmark = pytest.mark.slow

# Every page route, as who uses it (some seen by more than one role); a path whose object a world lacks is skipped
# there. The error page is no route of its own: an unknown video's page.
VISITS = [
    Visit("/", "anonymous", "/"),
    Visit("/login", "anonymous", "/login"),
    Visit("/signup", "anonymous", "/signup"),
    Visit("/embed/{video_id}", "anonymous", "/embed/{video_id}"),
    Visit("/c/{handle}", "anonymous", "/c/{handle}"),
    Visit("/simid/overlay/{decision_id}", "anonymous", "/simid/overlay/{decision_id}"),
    Visit(None, "anonymous", "/watch/{unknown_id}"),
    Visit("/", "buyer", "/"),
    Visit("/watch/{video_id}", "buyer", "/watch/{video_id}"),
    Visit("/p/{product_id}", "buyer", "/p/{product_id}"),
    Visit("/orders", "buyer", "/orders"),
    Visit("/wallet", "buyer", "/wallet"),
    Visit("/account", "buyer", "/account"),
    Visit("/live/{show_id}", "buyer", "/live/{show_id}"),
    Visit("/merchant", "merchant", "/merchant"),
    Visit("/watch/{video_id}", "merchant", "/watch/{processing_video_id}"),
    Visit("/studio", "merchant", "/studio"),
    Visit("/upload", "merchant", "/upload"),
    Visit("/videos/{video_id}/tags", "merchant", "/videos/{video_id}/tags"),
    Visit("/videos/{video_id}/analytics", "merchant", "/videos/{video_id}/analytics"),
    Visit("/merchant/campaigns", "merchant", "/merchant/campaigns"),
    Visit("/merchant/campaigns/{campaign_id}", "merchant", "/merchant/campaigns/{campaign_id}"),
    Visit("/dashboard", "merchant", "/dashboard"),
    Visit("/payouts", "merchant", "/payouts"),
    Visit("/orders", "merchant", "/orders"),
    Visit("/account", "merchant", "/account"),
    Visit("/live/{show_id}/host", "merchant", "/live/{show_id}/host"),
    Visit("/partner", "partner", "/partner"),
    Visit("/dashboard", "partner", "/dashboard"),
    Visit("/admin/payouts", "admin", "/admin/payouts"),
    Visit("/admin/reconciliation", "admin", "/admin/reconciliation"),
    Visit("/dashboard", "admin", "/dashboard"),
]


def card_over_the_picture(page: Any) -> str:
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_selector(".product-card", timeout=20_000)
    return "a product card on screen"


def drawer_open(page: Any) -> str:
    page.locator(".product-card .card-buy").first.click()
    page.wait_for_selector(".drawer:not([hidden]) .drawer-pay")
    return "the drawer open"


# Pages checked again in later states, each reached from the one before.
STATES: dict[str, list[Callable[[Any], str]]] = {"/watch/{video_id}": [card_over_the_picture, drawer_open]}


def check_every_page(browser: Any, world: World) -> tuple[list[str], list[str], int]:
    """Visit each page of VISITS the world has, in one signed-in context per role; the blocking findings, the
    others, and how many pages were checked."""
    blocking: list[str] = []
    others: list[str] = []
    checked = 0
    for role in ROLES:
        visits = [visit for visit in VISITS if visit.role == role and visit.url(world)]
        if not visits:
            continue
        context = signed_in_context(browser, world, role, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        for visit in visits:
            answer = page.goto(visit.url(world))
            assert answer is not None
            if visit.route is not None:
                assert answer.status < 400, f"{role} {visit.path}: {answer.status}"
            settle(page)
            states = [lambda _page: "as loaded", *STATES.get(visit.path, [])]
            for state in states:
                label = f"{role} {visit.path} ({state(page)})"
                findings = axe_findings(page)
                checked += 1
                blocking += readable(label, [f for f in findings if f["impact"] in BLOCKING])
                others += readable(label, [f for f in findings if f["impact"] not in BLOCKING])
        context.close()
    return blocking, others, checked


def test_every_html_route_is_visited(ctx):
    app = create_app(ctx, run_worker=False)
    assert {visit.route for visit in VISITS if visit.route} == html_page_routes(app)


def test_no_page_has_serious_violations_with_a_shops_data(shop_world, browser):
    blocking, others, checked = check_every_page(browser, shop_world)
    print(f"{checked} page states checked; moderate and minor findings:", *others, sep="\n  ")
    assert checked >= len(VISITS) + 2
    assert not blocking, "serious or critical axe violations:\n" + "\n".join(blocking)


def test_no_page_has_serious_violations_with_nothing_made(empty_world, browser):
    blocking, others, checked = check_every_page(browser, empty_world)
    print(f"{checked} page states checked; moderate and minor findings:", *others, sep="\n  ")
    assert checked >= 20
    assert not blocking, "serious or critical axe violations:\n" + "\n".join(blocking)
