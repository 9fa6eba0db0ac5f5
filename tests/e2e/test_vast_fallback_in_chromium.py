"""An ad with no HLS rendition cannot be an HLS interstitial: when a third party's VAST with only an MP4 file wins
the pre-roll, the asset list hands the player that VAST, and Vetrina's player plays it over the film the older way
(a second <video>), firing both parties' tracking, then the film plays on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.ads.helpers import fund
from tests.helpers import make_clip, other_site, wait_for, wait_in_page
from vetrina.accounts.models import Role
from vetrina.ads.models import AdEvent

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings):
    # The third party's server is on this machine's loopback: its tags may be fetched from there.
    return settings.model_copy(update={"ladder_heights": [240], "fetch_allow_private": True})


@pytest.fixture
def ad_server(media_dir) -> Iterator[tuple[str, list[str]]]:
    """A third party on 127.0.0.3: an InLine linear ad whose only media is an MP4 it serves; yields its URL and the
    paths it was asked for."""
    spot = make_clip(media_dir / "third-party-spot-4s.mp4", 4, size="426x240", faststart=True).read_bytes()
    with other_site("127.0.0.3") as site:
        url = site.origin
        inline = (
            '<VAST version="4.2"><Ad id="tp"><InLine><AdSystem>Third</AdSystem><AdTitle>Their spot</AdTitle>'
            f"<AdServingId>tp-1</AdServingId><Impression>{url}/imp</Impression><Creatives>"
            '<Creative><UniversalAdId idRegistry="tp">1</UniversalAdId><Linear><Duration>00:00:04</Duration>'
            f'<TrackingEvents><Tracking event="start">{url}/start</Tracking></TrackingEvents><MediaFiles>'
            f'<MediaFile delivery="progressive" type="video/mp4" width="426" height="240">{url}/spot.mp4'
            "</MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>"
        )
        site.add("/inline.xml", inline, "application/xml")
        site.add("/spot.mp4", spot, "video/mp4")
        for beacon in ("/imp", "/start"):
            site.add(beacon, b"", "text/plain")
        yield url, site.asked


def test_a_third_partys_mp4_only_ad_plays_through_the_vast_path(
    live_server, make_account, media_dir, ad_server, browser
):
    third_party, asked = ad_server
    publisher, advertiser = make_account(Role.merchant), make_account(Role.merchant)
    clip = make_clip(media_dir / "e2e-12s.mp4", 12, size="854x480")
    now = datetime.now(UTC)
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        with clip.open("rb") as handle:
            film = http.post(
                "/api/v1/videos", headers=publisher.auth, data={"title": "Film"}, files={"file": ("c.mp4", handle)}
            ).json()["id"]
        wait_for(lambda: http.get(f"/api/v1/videos/{film}").json()["status"] == "ready", timeout_s=120)
        fund(live_server.ctx, advertiser)
        campaign = http.post(
            "/api/v1/campaigns",
            headers=advertiser.auth,
            json={
                "name": "Their tag",
                "kind": "linear",
                "vast_url": f"{third_party}/inline.xml",
                "bid": {"model": "cpm", "price": {"amount": 900, "currency": "EUR"}},
                "budget_total": {"amount": 5000, "currency": "EUR"},
                "budget_daily": {"amount": 5000, "currency": "EUR"},
                "starts_at": (now - timedelta(days=1)).isoformat(),
                "ends_at": (now + timedelta(days=7)).isoformat(),
            },
        )
        assert campaign.status_code == 201, campaign.text
        started = http.patch(
            f"/api/v1/campaigns/{campaign.json()['id']}", headers=advertiser.auth, json={"status": "active"}
        )
        assert started.status_code == 200, started.text

    agent = (
        f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{browser.version} Safari/537.36"
    )
    page = browser.new_page(viewport={"width": 1280, "height": 800}, user_agent=agent)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/watch/{film}")
    wait_in_page(page, "window.vetrinaAds && window.vetrinaAds.interstitials")
    page.evaluate("() => { const v = document.querySelector('#video'); v.muted = true; v.play().catch(() => {}); }")
    page.wait_for_selector(".ad-layer video", timeout=20_000)
    assert page.get_attribute(".ad-layer video", "src") == f"{third_party}/spot.mp4"
    assert page.evaluate("document.querySelector('#video').paused"), "the film waits for the ad"
    assert page.evaluate("document.querySelector('#video').currentTime") < 1
    page.wait_for_selector(".ad-layer", state="detached", timeout=20_000)
    wait_in_page(page, "!document.querySelector('#video').paused && document.querySelector('#video').currentTime > 1")
    assert errors == []

    assert {"/inline.xml", "/spot.mp4", "/imp", "/start"} <= set(asked), asked
    ctx = live_server.ctx

    def ours() -> set[str]:
        with ctx.db.session() as session:
            return {e.event for e in session.query(AdEvent).filter_by(campaign_id=campaign.json()["id"])}

    wait_for(lambda: {"impression", "start", "complete"} <= ours(), timeout_s=10, message=f"our tracking ({ours()})")
