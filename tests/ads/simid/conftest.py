"""Fixtures of the SIMID creative's tests: an overlay ad Vetrina served for a viewer (a published product with its
photo, a CPC campaign for it, a film with an overlay break, and the VAST answer that names the creative), and a
third-party player's site on another loopback origin (127.0.0.2) whose page speaks SIMID as a player does."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.ads.helpers import fund
from tests.ads.simid.helpers import BROWSER_AGENT, HARNESS_PAGE, OverlayAd
from tests.helpers import other_site, ready_video_row, serve_overlay_ad
from tests.studio.helpers import photo_bytes
from vetrina.accounts.models import Role


@pytest.fixture
def settings(settings):
    # Decide from fresh campaign figures (in production a process keeps them for 2 s).
    return settings.model_copy(update={"ads_campaign_cache_s": 0})


@pytest.fixture
def overlay_ad(live_server, make_account) -> Iterator[OverlayAd]:
    ctx = live_server.ctx
    publisher, advertiser = make_account(Role.merchant), make_account(Role.merchant)
    with ctx.db.session(write=True) as session:
        film = ready_video_row(publisher.user.id, title="The film")
        session.add(film)
        session.flush()
        film_id = film.id
    with httpx.Client(base_url=live_server.url, timeout=30, headers={"User-Agent": BROWSER_AGENT}) as http:
        product = http.post(
            "/api/v1/products",
            headers=advertiser.auth,
            json={"title": "Sponsored mug", "price": {"amount": 1800, "currency": "EUR"}, "stock": 5},
        ).json()
        photo = {"file": ("m.jpg", photo_bytes((60, 120, 200)), "image/jpeg")}
        assert http.post(f"/api/v1/products/{product['id']}/images", headers=advertiser.auth, files=photo).is_success
        fund(ctx, advertiser)
        served = serve_overlay_ad(http, ctx, advertiser, film_id, product["id"])
    yield OverlayAd(
        url=live_server.url,
        advertiser=advertiser,
        product=product,
        campaign_id=served.campaign_id,
        film_id=film_id,
        vast=served.vast,
        decision_id=served.ad.ad_serving_id,
    )


@pytest.fixture(scope="module")
def player_site() -> Iterator[str]:
    """The origin of a third-party player's site on 127.0.0.2, serving the SIMID harness page at /player.html."""
    with other_site("127.0.0.2") as site:
        site.add("/player.html", HARNESS_PAGE)
        yield site.origin
