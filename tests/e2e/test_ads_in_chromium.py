"""Ads in real Chromium: a pre-roll plays before the film as an HLS interstitial (hls.js plays it from the
playlist, in the film's own <video>) with its label, countdown and skip button, then the film resumes; an overlay
ad appears as a shoppable card while the film keeps playing; the tracking comes back, each beacon once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.ads.helpers import fund
from tests.helpers import make_clip, wait_for, wait_in_page
from tests.studio.helpers import photo_bytes
from vetrina.accounts.models import Role
from vetrina.ads.models import AdEvent, Campaign

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"ladder_heights": [240]})


def test_a_preroll_plays_then_the_film_and_an_overlay_card_sells_without_pausing(
    live_server,
    make_account,
    media_dir,
    browser,
):
    publisher, advertiser = make_account(Role.merchant), make_account(Role.merchant)
    film_clip = make_clip(media_dir / "e2e-12s.mp4", 12, size="854x480")
    spot_clip = make_clip(media_dir / "ads-spot-10s.mp4", 10, size="640x360")
    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(days=1)).isoformat(), "ends_at": (now + timedelta(days=7)).isoformat()}
    money = {"budget_total": {"amount": 5000, "currency": "EUR"}, "budget_daily": {"amount": 5000, "currency": "EUR"}}
    with httpx.Client(base_url=live_server.url, timeout=30) as http:

        def upload(account, clip, title) -> int:
            with clip.open("rb") as handle:
                return http.post(
                    "/api/v1/videos", headers=account.auth, data={"title": title}, files={"file": ("c.mp4", handle)}
                ).json()["id"]

        film, spot = upload(publisher, film_clip, "The film"), upload(advertiser, spot_clip, "The spot")
        for video in (film, spot):
            wait_for(
                lambda v=video: http.get(f"/api/v1/videos/{v}").json()["status"] == "ready",
                timeout_s=120,
                message="the videos",
            )
        assert (
            http.put(
                f"/api/v1/videos/{film}/ad-settings",
                headers=publisher.auth,
                json={"preroll": True, "overlays_s": [2.0]},
            ).status_code
            == 200
        )
        mug = http.post(
            "/api/v1/products",
            headers=advertiser.auth,
            json={"title": "Sponsored mug", "price": {"amount": 1800, "currency": "EUR"}, "stock": 5},
        ).json()
        http.post(
            f"/api/v1/products/{mug['id']}/images",
            headers=advertiser.auth,
            files={"file": ("m.jpg", photo_bytes((60, 120, 200)), "image/jpeg")},
        )
        fund(live_server.ctx, advertiser)
        campaigns = [
            {
                "name": "Spot",
                "kind": "linear",
                "video_id": spot,
                "bid": {"model": "cpm", "price": {"amount": 900, "currency": "EUR"}},
                **money,
                **window,
            },
            {
                "name": "Mug card",
                "kind": "overlay",
                "product_id": mug["id"],
                "bid": {"model": "cpc", "price": {"amount": 40, "currency": "EUR"}},
                **money,
                **window,
            },
        ]
        ids = []
        for body in campaigns:
            created = http.post("/api/v1/campaigns", headers=advertiser.auth, json=body)
            assert created.status_code == 201, created.text
            active = http.patch(
                f"/api/v1/campaigns/{created.json()['id']}", headers=advertiser.auth, json={"status": "active"}
            )
            assert active.status_code == 200, active.text
            ids.append(created.json()["id"])

    # Headless Chromium says "HeadlessChrome", which ad tracking filters out as a bot: speak as the browser it is.
    agent = (
        f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{browser.version} Safari/537.36"
    )
    page = browser.new_page(viewport={"width": 1280, "height": 800}, user_agent=agent)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    beacons: list[str] = []
    page.on("request", lambda r: beacons.append(r.url.split("?")[0]) if "/api/v1/ads/events/" in r.url else None)
    page.goto(f"{live_server.url}/watch/{film}")
    # The pre-roll is the playlist's; the VMAP leaves the page only the overlay to fill.
    wait_in_page(page, "window.vetrinaAds && window.vetrinaAds.interstitials && window.vetrinaAds.breaks.length === 1")
    page.evaluate("() => { const v = document.querySelector('#video'); v.muted = true; v.play().catch(() => {}); }")
    page.wait_for_selector(".ad-chrome .ad-label", timeout=20_000)
    assert page.inner_text(".ad-label").startswith("Ad")
    wait_in_page(page, "window.vetrinaPlayer.inAd() && document.querySelector('#video').currentTime > 1", 20_000)
    assert page.evaluate("window.vetrinaPlayer.filmTime()") == 0, "the film waits for the linear ad"
    assert page.inner_text(".time").endswith("/ 0:12"), "the controls keep the film's time"
    page.wait_for_selector(".ad-skip:not([disabled])", timeout=20_000)  # skippable after 5 s
    # How far the ad played: a skip ends it there, well before its 10 s.
    page.evaluate("""() => { window.adPlayed = 0; const v = document.querySelector('#video');
        v.addEventListener('timeupdate', () => { if (window.vetrinaPlayer.inAd()) window.adPlayed = v.currentTime; });
    }""")
    page.click(".ad-skip")
    page.wait_for_selector(".ad-chrome", state="detached")
    film_plays = "!window.vetrinaPlayer.inAd() && !document.querySelector('#video').paused"
    wait_in_page(page, film_plays + " && document.querySelector('#video').currentTime > 2.5", timeout_ms=20_000)
    assert page.evaluate("window.adPlayed") < 8, "the skip ended the ad"
    page.wait_for_selector('.ad-card:has-text("Sponsored mug")', timeout=20_000)
    assert not page.evaluate("document.querySelector('#video').paused"), "an overlay never pauses the film"
    page.click('.ad-card:has-text("Sponsored mug") .card-buy')
    page.wait_for_selector(".drawer:not([hidden])")
    assert "Sponsored mug" in page.inner_text(".drawer")
    assert errors == []

    ctx = live_server.ctx

    def tracked() -> set[tuple[int, str]]:
        with ctx.db.session() as session:
            return {(e.campaign_id, e.event) for e in session.query(AdEvent)}

    wanted = {(ids[0], "impression"), (ids[0], "start"), (ids[0], "skip"), (ids[1], "impression"), (ids[1], "click")}
    wait_for(lambda: wanted <= tracked(), timeout_s=10, message=f"the tracking events (have {tracked()})")
    assert len(beacons) == len(set(beacons)), f"the player fired each beacon once: {beacons}"
    assert not [url for url in beacons if url.endswith("/complete")], "a skipped ad did not complete"
    with ctx.db.session() as session:
        linear, overlay = session.get(Campaign, ids[0]), session.get(Campaign, ids[1])
        assert linear.spent_millis > 0 and overlay.spent_millis > 0  # an impression (CPM), a click (CPC)
        assert {e.filtered_reason for e in session.query(AdEvent)} == {None}  # a viewer's beacons are valid traffic
