"""A Vetrina video is shoppable in players that are not Vetrina's: on another site, hls.js (the version Vetrina
serves) and Shaka Player (from npm) play a film from its playlist alone. Each hears the product moment as timed
metadata at its second, plays the pre-roll and the mid-roll as HLS Interstitials filled by the auction, and goes
back to the film where it left it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import wait_in_page
from tests.players.helpers import MIDROLL_S, MOMENT_S, SHAKA, Film, player_site
from vetrina.ads.models import AdEvent

pytestmark = pytest.mark.slow
TOLERANCE_S = 0.5


def play(browser: Any, url: str) -> list[dict[str, Any]]:
    """Open the page and let its player play the film through (12 s of film, two 4 s ads); what it logged."""
    page = browser.new_page(viewport={"width": 800, "height": 500})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(url)
    moment = "window.log.some((e) => e.what === 'moment')"
    two_breaks = "window.log.filter((e) => e.what === 'break-end').length >= 2"
    resumed = "window.log.some((e) => e.what === 'film-resumed' && e.film > 3)"
    try:
        wait_in_page(page, f"{moment} && {two_breaks} && {resumed}", 90_000)
    except AssertionError as exc:
        logged = page.evaluate("window.log")
        ticks = [e for e in logged if e["what"] == "tick"]
        events = [e for e in logged if e["what"] != "tick"]
        raise AssertionError(
            f"{exc}; logged {events} ticks {ticks[:3]}...{ticks[-3:]}; console {console[-40:]}"
        ) from None
    log = page.evaluate("window.log")
    page.close()
    assert errors == [] and not [e for e in log if e["what"] == "error"], (errors, log)
    return log


def check_the_film(log: list[dict[str, Any]], film: Film) -> None:
    moments = [e for e in log if e["what"] == "moment"]
    assert moments[0]["id"] == str(film.product_id)
    assert abs(moments[0]["film"] - MOMENT_S) <= TOLERANCE_S, moments
    starts: list[dict[str, Any]] = []
    for event in (e for e in log if e["what"] == "break-start"):
        # hls.js may announce a break's start again while its asset list loads: the same break, at the same time.
        if not starts or (starts[-1]["id"], round(starts[-1]["film"])) != (event["id"], round(event["film"])):
            starts.append(event)
    assert len(starts) == 2, log
    assert starts[0]["film"] <= TOLERANCE_S, "the pre-roll plays before the film"
    assert abs(starts[1]["film"] - MIDROLL_S) <= TOLERANCE_S, "the mid-roll plays at its second"
    resumed = [e["film"] for e in log if e["what"] == "film-resumed"]
    assert any(abs(t - MIDROLL_S) <= TOLERANCE_S for t in resumed), f"back to the film where it left it: {resumed}"


def impressions(ctx: Any, campaign_id: int) -> int:
    with ctx.db.session() as session:
        return session.query(AdEvent).filter_by(campaign_id=campaign_id, event="impression").count()


def test_hls_js_hears_the_product_and_plays_the_breaks_as_interstitials(live_server, film, browser):
    with player_site("127.0.0.2", live_server.url, film.master_url) as site:
        log = play(browser, f"{site}/hls.html")
    check_the_film(log, film)
    assert [e["id"] for e in log if e["what"] == "asset-start"] == ["preroll", "midroll-1"], "each spot played once"
    assert impressions(live_server.ctx, film.campaign_id) == 2, "each break's spot counted, with no beacon fired"


def test_shaka_player_hears_the_product_and_plays_the_breaks_as_interstitials(live_server, film, browser):
    assert SHAKA.is_file(), "npm ci installs Shaka Player (a dev dependency)"
    with player_site("127.0.0.2", live_server.url, film.master_url) as site:
        log = play(browser, f"{site}/shaka.html")
    check_the_film(log, film)
    assert impressions(live_server.ctx, film.campaign_id) == 2, "each break's spot counted, with no beacon fired"
