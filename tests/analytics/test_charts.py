"""The charts in real Chromium (uPlot, static/charts.js): drawn on a canvas labelled for screen readers, money as
money in the axis, legend and table, the values under the cursor in the legend, the same figures in the table
beside each chart, and on a video's timeline zoom (drag, buttons by keyboard, double click) and a click on a second
that plays the video from there."""

from __future__ import annotations

import math

import httpx
import pytest

from tests.a11y.helpers import BLOCKING, axe_findings, readable
from tests.ads.helpers import campaign_row, fund
from tests.analytics.helpers import sell
from tests.commerce.helpers import product
from tests.helpers import ready_video_row, sign_in_page, wait_in_page
from tests.rights.helpers import title
from tests.shoppable.helpers import tag
from tests.studio.helpers import photo_bytes
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.ads.models import VideoAdSettings
from vetrina.ads.vast import read_vast
from vetrina.analytics import rollups

pytestmark = pytest.mark.slow

# What a figure's chart holds: its canvas's role and label, uPlot's data and x range, the legend's values.
DRAWN = """figure => {
  const u = figure.uplot, canvas = figure.querySelector("canvas");
  return {
    role: canvas.getAttribute("role"), label: canvas.getAttribute("aria-label"), width: canvas.width,
    data: u.data.map(values => Array.from(values)), min: u.scales.x.min, max: u.scales.x.max,
    legend: [...figure.querySelectorAll(".u-legend .u-value")].map(cell => cell.textContent),
  };
}"""
# The table's rows as text: [row heading, cells...].
TABLE = """table => [...table.tBodies[0].rows].map(row => [...row.cells].map(cell => cell.textContent.trim()))"""


def clock_text(second: int) -> str:
    hours, rest = divmod(second, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def opened(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    return page, errors


def point_at(page, figure: str, x: float, y_share: float = 0.5) -> tuple[float, float]:
    """The page coordinates of value `x` on the chart's x axis, `y_share` down its plot."""
    return page.eval_on_selector(
        figure,
        """(figure, [x, share]) => {
          const u = figure.uplot, box = u.over.getBoundingClientRect();
          return [box.left + u.valToPos(x, "x"), box.top + box.height * share];
        }""",
        [x, y_share],
    )


def test_the_merchant_dashboard_charts_money_with_a_legend_tabs_and_the_same_table(live_server, make_account, browser):
    merchant, buyer = make_account(Role.merchant), make_account(Role.viewer)
    film = title(live_server.ctx, merchant, "Chart film")
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        http.post("/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 10_000, "currency": "EUR"})
        sell(http, merchant, buyer, film, 1800, finish=False)  # two at €18.00: 3600 cents today
    page, errors = opened(browser)
    sign_in_page(page, live_server.url, merchant, "/dashboard")
    wait_in_page(page, "!!document.querySelector('[data-testid=dashboard-chart]')?.uplot")
    figure = "[data-testid=dashboard-chart]"
    drawn = page.eval_on_selector(figure, DRAWN)
    assert drawn["role"] == "img" and drawn["width"] > 300
    revenue, orders = drawn["data"][1], drawn["data"][2]
    assert len(revenue) == 30 and revenue[-1] == 3600 and orders[-1] == 1 and sum(revenue) == 3600
    assert "€36.00 in all, at most €36.00 on" in drawn["label"]  # the summary names money as money
    shown = page.inner_text(figure)
    assert "3600" not in shown and "3,600" not in shown  # minor units never shown raw (the old peak "3600")
    ticks = page.eval_on_selector(figure, "f => f.uplot.axes[1]._values")  # the revenue axis
    assert ticks and all(tick.startswith("€") for tick in ticks)

    # The table beside it: one row a day, the same figures, revenue as money.
    rows = page.eval_on_selector("[data-testid=dashboard-table]", TABLE)
    assert len(rows) == 30
    assert [row[1] for row in rows] == ["€0.00"] * 29 + ["€36.00"]
    assert [int(row[2]) for row in rows] == orders
    assert page.eval_on_selector("[data-testid=dashboard-table]", "t => t.caption.textContent") != ""
    assert (
        page.eval_on_selector_all("[data-testid=dashboard-table] thead th", "ths => ths.map(th => th.scope)")
        == ["col"] * 3
    )

    # Hovering today's bar: its day and values in the legend.
    x, y = point_at(page, figure, 29, 0.9)
    page.mouse.move(x, y)
    legend = page.eval_on_selector(figure, DRAWN)["legend"]
    assert legend[0] == rows[-1][0] and legend[1:] == ["€36.00", "1"]

    # The boards are separate tabs, the shown one marked as the current page.
    tabs = page.eval_on_selector_all(
        ".board-tabs a",
        "links => links.map(a => ({text: a.textContent, current: a.getAttribute('aria-current'),"
        " left: a.getBoundingClientRect().left, right: a.getBoundingClientRect().right}))",
    )
    assert [(t["text"], t["current"]) for t in tabs] == [("Shop", "page"), ("Videos", None)]
    assert tabs[1]["left"] - tabs[0]["right"] >= 4  # never "ShopVideos"

    # In Italian, money is written the Italian way in the table, the legend and the axis.
    page.select_option("#language-choice", "it")
    page.click(".language-switcher button[type=submit]")
    page.wait_for_selector("html[lang=it]")
    wait_in_page(page, "!!document.querySelector('[data-testid=dashboard-chart]')?.uplot")
    italian = page.eval_on_selector("[data-testid=dashboard-table]", TABLE)[-1][1]
    page.mouse.move(*point_at(page, figure, 29, 0.9))
    legend = page.eval_on_selector(figure, DRAWN)["legend"]
    ticks = page.eval_on_selector(figure, "f => f.uplot.axes[1]._values")
    assert italian.replace("\xa0", " ") == "36,00 €" and legend[1] == italian and ticks[-1].endswith("€")

    page.click(".board-tabs a[href*='board=owner']")
    page.wait_for_selector("[data-testid=no-data]")  # nobody played anything: said, not an empty chart
    assert page.query_selector("canvas") is None
    assert errors == []


def test_the_selling_seconds_of_a_two_hour_film_zoom_and_play_from_a_clicked_second(live_server, make_account, browser):
    owner = make_account(Role.merchant)
    with live_server.ctx.db.session(write=True) as session:
        video = ready_video_row(owner.user.id, title="Two-hour film", duration_s=7200.0)
        session.add(video)
        session.flush()
        film = video.id
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        scarf = product(http, owner, price=2500)
        assert tag(http, owner, film, scarf["id"], 3590, 3620, label="Silk scarf").status_code == 201
        watched = [
            ("play", 0),
            ("progress", 7000),
            ("card_shown", 3595),
            ("card_clicked", 3600.4),
            ("purchase", 3601.2),
        ]
        events = [{"id": f"c{i}", "type": k, "video_id": film, "second": s} for i, (k, s) in enumerate(watched)]
        assert http.post("/api/v1/events", json={"viewer": "viewer-long", "events": events}).json()["accepted"] == 5
        late = [
            {"id": "d0", "type": "play", "video_id": film, "second": 3000},
            {"id": "d1", "type": "progress", "video_id": film, "second": 4000},
        ]
        assert http.post("/api/v1/events", json={"viewer": "viewer-late", "events": late}).json()["accepted"] == 2
    rollups.roll_up_new(live_server.ctx.db)
    page, errors = opened(browser)
    sign_in_page(page, live_server.url, owner, f"/videos/{film}/analytics")
    figure = "[data-testid=selling-chart]"
    wait_in_page(page, "!!document.querySelector('[data-testid=selling-chart]')?.uplot")
    drawn = page.eval_on_selector(figure, DRAWN)
    assert drawn["role"] == "img" and "2:00:00" in drawn["label"] and "Best-selling second: 1:00:01" in drawn["label"]
    seconds, viewers, shown, clicked, purchases = drawn["data"]
    assert len(seconds) == 7200 and (clicked[3600], purchases[3601], max(viewers)) == (1, 1, 2)
    assert (drawn["min"], drawn["max"]) == (-0.5, 7199.5)  # the whole film
    ticks = page.eval_on_selector(figure, "f => f.uplot.axes[0]._values.filter(Boolean)")
    assert ticks and all(":" in tick for tick in ticks) and "1:00:00" in ticks  # seconds as h:mm:ss

    # The table: runs of equal seconds, which expand to exactly the chart's figures.
    rows = page.eval_on_selector_all(
        "[data-testid=selling-table] tbody tr",
        "rows => rows.map(r => [+r.dataset.start, +r.dataset.end, ...[...r.cells].slice(1).map(c => +c.textContent)])",
    )
    expanded = [figures for start, end, *figures in rows for _ in range(start, end + 1)]
    assert expanded == [list(each) for each in zip(viewers, shown, clicked, purchases, strict=True)]
    assert rows[0][:2] == [0, 2999] and len(rows) < 20  # 7,200 seconds in a few rows
    assert page.get_attribute("[data-testid=selling-table] tbody tr:first-child a", "href") == f"/watch/{film}?t=0"

    # Drag to zoom: the x range narrows to the dragged stretch, and nothing plays.
    (start_x, y), (end_x, _) = point_at(page, figure, 3000), point_at(page, figure, 4200)
    page.mouse.move(start_x, y)
    page.mouse.down()
    page.mouse.move(end_x, y, steps=8)
    page.mouse.up()
    zoomed = page.eval_on_selector(figure, DRAWN)
    assert 2990 < zoomed["min"] < 3010 and 4190 < zoomed["max"] < 4210
    status = page.inner_text("[data-zoom-range]")  # said, for those who cannot see the axis move
    assert status == f"Showing {clock_text(math.ceil(zoomed['min']))} to {clock_text(math.floor(zoomed['max']))}"
    # By keyboard: Zoom in halves the window, Zoom out doubles it, Whole video shows it all again.
    page.focus("[data-zoom=in]")
    page.keyboard.press("Enter")
    narrower = page.eval_on_selector(figure, DRAWN)
    assert narrower["max"] - narrower["min"] == pytest.approx((zoomed["max"] - zoomed["min"]) / 2)
    page.keyboard.press("Tab")  # to Zoom out
    page.keyboard.press("Enter")
    wider = page.eval_on_selector(figure, DRAWN)
    assert wider["max"] - wider["min"] == pytest.approx(zoomed["max"] - zoomed["min"])
    page.keyboard.press("Tab")  # to Whole video
    page.keyboard.press("Enter")
    assert page.eval_on_selector(figure, "f => [f.uplot.scales.x.min, f.uplot.scales.x.max]") == [-0.5, 7199.5]
    # A double click also shows the whole film, and plays nothing.
    page.mouse.move(start_x, y)
    page.mouse.down()
    page.mouse.move(end_x, y, steps=8)
    page.mouse.up()
    assert page.eval_on_selector(figure, "f => f.uplot.scales.x.max") < 4300
    page.mouse.dblclick(*point_at(page, figure, 3500))
    assert page.eval_on_selector(figure, "f => [f.uplot.scales.x.min, f.uplot.scales.x.max]") == [-0.5, 7199.5]
    assert f"/videos/{film}/analytics" in page.url

    # Zoomed in (a second of 7,200 is narrower than a pixel), hover shows the second and what happened at it in
    # the legend, and a click on a second plays the film from it.
    page.mouse.move(*point_at(page, figure, 3590))
    page.mouse.down()
    page.mouse.move(*point_at(page, figure, 3620), steps=8)
    page.mouse.up()
    page.mouse.move(*point_at(page, figure, 3600))
    assert page.eval_on_selector(figure, DRAWN)["legend"] == ["1:00:00", "2", "0", "1", "0"]
    assert errors == []
    page.mouse.click(*point_at(page, figure, 3601))
    page.wait_for_url(f"**/watch/{film}?t=3601")

    # axe-core finds nothing serious on the page, drawn and with its table open (in a context of its own: axe is
    # injected as an inline script, which the page's policy refuses).
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    checked = context.new_page()
    sign_in_page(checked, live_server.url, owner, f"/videos/{film}/analytics")
    wait_in_page(checked, "!!document.querySelector('[data-testid=selling-chart]')?.uplot")
    checked.click(".chart-table summary")
    findings = axe_findings(checked)
    context.close()
    assert not readable("selling seconds", [f for f in findings if f["impact"] in BLOCKING])


def test_a_campaigns_report_charts_impressions_clicks_and_spend(live_server, make_account, browser):
    ctx, merchant = live_server.ctx, make_account(Role.merchant)
    film = title(ctx, merchant, "Film with a card")
    fund(ctx, merchant)
    viewer = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0"}  # a script's own agent is a bot's
    with httpx.Client(base_url=live_server.url, timeout=30, headers=viewer) as http:
        mug = product(http, merchant, price=1200)
        photo = {"file": ("mug.jpg", photo_bytes((60, 120, 200), size=(320, 320)), "image/jpeg")}
        assert http.post(f"/api/v1/products/{mug['id']}/images", headers=merchant.auth, files=photo).is_success
        with ctx.db.session(write=True) as session:
            session.add(VideoAdSettings(video_id=film, midrolls_s=[], overlays_s=[2.0], floor_cpm=0, currency="EUR"))
            card = campaign_row(
                merchant.user.id, clock.now(), name="Mug card", product_id=mug["id"], bid_model="cpc", bid_amount=40
            )
            session.add(card)
            session.flush()
            campaign_id = card.id
        vast = http.get("/api/v1/ads/vast", params={"video_id": film, "slot": "overlay-1"})
        (ad,) = read_vast(vast.content).ads
        assert http.get(ad.impressions[0]).status_code < 400
        assert http.get(ad.creatives[0].non_linears[0].click_through).status_code < 400
        report = http.get(f"/api/v1/campaigns/{campaign_id}/report", headers=merchant.auth).json()
    spent = report["spend"]["amount"]  # what the click cost in the auction (second price), in cents
    assert (report["impressions"], report["clicks"]) == (1, 1) and 0 < spent <= 40
    money = f"€0.{spent:02d}"
    page, errors = opened(browser)
    sign_in_page(page, live_server.url, merchant, f"/merchant/campaigns/{campaign_id}")
    figure = "[data-testid=campaign-chart]"
    wait_in_page(page, "!!document.querySelector('[data-testid=campaign-chart]')?.uplot")
    drawn = page.eval_on_selector(figure, DRAWN)
    assert drawn["role"] == "img" and f"Impressions: 1. Clicks: 1. Spent: {money}." in drawn["label"]
    assert drawn["data"][1:] == [[1], [1], [spent]]  # one day: an impression, a click and what it cost
    [row] = page.eval_on_selector("[data-testid=campaign-table]", TABLE)
    assert row[1:] == ["1", "1", money]
    page.mouse.move(*point_at(page, figure, 0, 0.9))
    assert page.eval_on_selector(figure, DRAWN)["legend"] == [row[0], "1", "1", money]
    assert errors == []
