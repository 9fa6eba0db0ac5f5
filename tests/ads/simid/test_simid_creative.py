"""The overlay ad's SIMID creative over real HTTP: the VAST names it beside the static card and stays valid VAST 4.2;
its page shows the product to whichever site frames it, recording and charging nothing; a forged, altered, expired or
unknown ad, an ad with no product and an unpublished product are one and the same 404."""

from __future__ import annotations

import re
import time

import httpx
from lxml import etree

from tests.ads.helpers import campaign_row
from tests.ads.simid.helpers import BROWSER_AGENT
from tests.web.helpers import assert_problem
from vetrina import clock
from vetrina.ads import tokens
from vetrina.ads.models import AdDecision, AdEvent, Campaign
from vetrina.ads.vast import VAST_NAMESPACE, read_vast

NS = {"v": VAST_NAMESPACE}


def frame_ancestors(response: httpx.Response) -> str:
    return re.search(r"frame-ancestors ([^;]+)", response.headers["content-security-policy"]).group(1)


def test_the_overlay_vast_names_a_simid_creative_after_the_static_card(overlay_ad, assert_valid_vast):
    assert_valid_vast(overlay_ad.vast)
    static, interactive = etree.fromstring(overlay_ad.vast).findall(".//v:NonLinearAds/v:NonLinear", NS)
    assert static.get("apiFramework") is None
    assert static.find("v:StaticResource", NS).get("creativeType") == "image/jpeg"
    assert interactive.get("apiFramework") == "SIMID"
    assert interactive.find("v:StaticResource", NS) is None
    assert interactive.findtext("v:IFrameResource", namespaces=NS) == overlay_ad.url + overlay_ad.creative_path
    for overlay in (static, interactive):
        assert overlay.findtext("v:NonLinearClickThrough", namespaces=NS) == overlay_ad.click_url
    (creative,) = read_vast(overlay_ad.vast).ads[0].creatives
    assert [n.api_framework for n in creative.non_linears] == [None, "SIMID"]
    assert creative.universal_ad_ids == [("vetrina.product", str(overlay_ad.product["id"]))]


def test_the_creative_page_shows_the_card_to_any_site_and_records_nothing(overlay_ad, live_server):
    with httpx.Client(base_url=overlay_ad.url, headers={"User-Agent": BROWSER_AGENT}) as http:
        page = http.get(overlay_ad.creative_path)
        product_page = http.get(f"/p/{overlay_ad.product['id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<h1 class="simid-title">Sponsored mug</h1>' in page.text
    assert '<p class="simid-price">€18.00</p>' in page.text
    assert f'data-click-url="{overlay_ad.click_url}"' in page.text
    assert '<script src="/static/simid.js" defer></script>' in page.text
    assert "<form" not in page.text, "the creative never buys: its buy action leaves through the player"
    assert frame_ancestors(page) == "*", "any site's player may frame the creative"
    assert frame_ancestors(product_page) == "'self'", "the product page (a form) is still not framed"
    assert "set-cookie" not in page.headers
    assert "no-store" in page.headers["cache-control"]
    with live_server.ctx.db.session() as session:
        assert session.query(AdDecision).count() == 0 and session.query(AdEvent).count() == 0
        assert session.get(Campaign, overlay_ad.campaign_id).spent_millis == 0


def test_every_ad_the_creative_cannot_show_is_the_same_404(overlay_ad, live_server, make_account):
    ctx = live_server.ctx
    key, now = ctx.store.signing_key, time.time()
    with ctx.db.session(write=True) as session:
        spot = campaign_row(overlay_ad.advertiser.user.id, clock.now(), kind="linear", video_id=overlay_ad.film_id)
        session.add(spot)
        session.flush()
        spot_id = spot.id

    def served(campaign_id: int, at: float = now, signing_key: bytes = key) -> str:
        return tokens.sign(signing_key, campaign_id, overlay_ad.film_id, "overlay-1", "anon:v", 40_000, at)

    payload, _, mac = overlay_ad.decision_id.partition(".")
    cannot_show = {
        "forged": served(overlay_ad.campaign_id, signing_key=b"someone else's key"),
        "altered": f"{payload[:-1]}{'B' if payload[-1] != 'B' else 'C'}.{mac}",
        "malformed": "not-a-served-ad",
        "too long": "a" * 2000,
        "expired": served(overlay_ad.campaign_id, at=now - tokens.TOKEN_TTL_S - 60),
        "unknown campaign": served(2**31 - 7),
        "campaign without a product": served(spot_id),
    }
    details = set()
    with httpx.Client(base_url=overlay_ad.url) as http:
        for why, token in cannot_show.items():
            answer = http.get(f"/simid/overlay/{token}")
            details.add(assert_problem(answer, 404, "not-found")["detail"])
            assert "Sponsored mug" not in answer.text, why
        assert http.get(overlay_ad.creative_path).status_code == 200
        hidden = http.patch(
            f"/api/v1/products/{overlay_ad.product['id']}",
            headers=overlay_ad.advertiser.auth,
            json={"published": False},
        )
        assert hidden.status_code == 200, hidden.text
        unpublished = http.get(overlay_ad.creative_path)
    details.add(assert_problem(unpublished, 404, "not-found")["detail"])
    assert "Sponsored mug" not in unpublished.text
    assert details == {"There is no such served ad."}, "which of them it was is not told"
