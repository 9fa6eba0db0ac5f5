"""The page scan's world: a shop with something on every page, written in no language the scan looks for."""

from __future__ import annotations

import re

import pytest

from tests.ads.helpers import fund
from tests.helpers import ready_video_row, serve_overlay_ad
from tests.shoppable.helpers import tag
from tests.studio.helpers import photo_bytes
from vetrina.accounts.models import Role


@pytest.fixture
def world(client, ctx, make_account):
    """An admin (who sees every desk) and a merchant's product (with a photo) tagged in a ready video, featured in a
    scheduled live show and sold by an overlay card campaign with one impression (so its page draws a chart); data
    written in no language the scan looks for (so user data is never mistaken for untranslated text)."""
    admin = make_account(Role.admin)
    merchant = make_account(Role.merchant)
    product = client.post(
        "/api/v1/products",
        headers=merchant.auth,
        json={"title": "ZX-7", "description": "—", "price": {"amount": 5900, "currency": "EUR"}, "stock": 3},
    ).json()
    photo = {"file": ("p.jpg", photo_bytes((60, 120, 200)), "image/jpeg")}
    assert client.post(f"/api/v1/products/{product['id']}/images", headers=merchant.auth, files=photo).is_success
    with ctx.db.session() as session:
        video = ready_video_row(merchant.user.id, title="ZX-7 360°")
        session.add(video)
        session.flush()
        video_id = video.id
    assert tag(client, merchant, video_id, product["id"], 1, 5).status_code == 201
    handle = client.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"]
    show = client.post("/api/v1/live", headers=merchant.auth, json={"title": "ZX-7 ∞", "product_ids": [product["id"]]})
    assert show.status_code == 201, show.text
    fund(ctx, merchant)
    served = serve_overlay_ad(client, ctx, merchant, video_id, product["id"], name="ZX-7 ∞")
    assert client.get(re.sub(r"^https?://[^/]+", "", served.ad.impressions[0])).status_code == 204
    client.cookies.clear()  # the viewer cookie of the ad: the test starts as nobody
    return {
        "admin": admin,
        "merchant": merchant,
        "video_id": video_id,
        "product_id": product["id"],
        "handle": handle,
        "show_id": show.json()["id"],
        "campaign_id": served.campaign_id,
        "decision_id": served.ad.ad_serving_id,
    }
