"""Inputs that API fuzzing turned into server errors on campaigns and ad clicks: each is now a 4xx problem, and
nothing is changed by it."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.ads.helpers import NOON, eur
from tests.commerce.helpers import product
from tests.helpers import make_clip, wait_for
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.ads import tokens
from vetrina.errors import NotFound


@pytest.fixture
def settings(settings):
    # A third-party tag on this machine; one small rendition for the film an ad is shown on.
    return settings.model_copy(update={"fetch_allow_private": True, "ladder_heights": [240]})


def overlay(product_id: int, **changes) -> dict:
    body = {
        "name": "Card",
        "kind": "overlay",
        "product_id": product_id,
        "bid": {"model": "cpc", "price": eur(50)},
        "budget_total": eur(50_000),
        "budget_daily": eur(10_000),
        "starts_at": (NOON - timedelta(days=1)).isoformat(),
        "ends_at": (NOON + timedelta(days=30)).isoformat(),
    }
    return {**body, **changes}


def as_json(account, body: dict) -> dict:
    """The request arguments for `body` as JSON escapes every non-ASCII character (a lone surrogate included)."""
    return {"headers": {**account.auth, "content-type": "application/json"}, "content": json.dumps(body)}


# null for a field a campaign cannot be without (null only removes a frequency cap)
NULLS = [
    {field: None}
    for field in ("name", "bid", "budget_total", "budget_daily", "starts_at", "ends_at", "targeting", "skippable")
]
REFUSED = [
    # dates that have no UTC time (before year 1, after 9999)
    {"starts_at": "0001-01-01T00:00:00+14:00"},
    {"ends_at": "9999-12-31T23:59:59-14:00"},
    # targeting values of the wrong shape
    {"targeting": {"devices": [None, 1]}},
    {"targeting": {"devices": [["mobile"]]}},
    {"targeting": {"devices": [{"a": 1}]}},
    {"targeting": {"channels": ["\ud800"]}},
    {"targeting": {"channels": [None]}},
    {"targeting": {"categories": [{"a": [1]}]}},
    {"targeting": {"hours": [True]}},
]


def test_campaign_input_that_made_a_server_error_is_refused_and_changes_nothing(client, make_account):
    advertiser = make_account(Role.merchant)
    product_id = product(client, advertiser)["id"]
    created = client.post("/api/v1/campaigns", headers=advertiser.auth, json=overlay(product_id))
    assert created.status_code == 201, created.text
    url = f"/api/v1/campaigns/{created.json()['id']}"
    for changes in NULLS + REFUSED:
        refused = client.patch(url, **as_json(advertiser, changes))
        assert refused.status_code == 422, (changes, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert client.get(url, headers=advertiser.auth).json() == created.json()
    for changes in REFUSED:
        refused = client.post("/api/v1/campaigns", **as_json(advertiser, overlay(product_id, **changes)))
        assert refused.status_code == 422, (changes, refused.text)
    assert [c["id"] for c in client.get("/api/v1/campaigns", headers=advertiser.auth).json()] == [created.json()["id"]]


def test_a_click_or_beacon_on_a_token_with_non_ascii_characters_is_a_404(client):
    for token in ["abc.é", "abc.%FF", "abc.%ED%A0%80", "S.ç", "abc%2Edé"]:
        for url in (f"/api/v1/ads/click/{token}", f"/api/v1/ads/events/{token}/click"):
            answer = client.get(url, follow_redirects=False)
            assert answer.status_code == 404, (url, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"


@given(st.text(max_size=120))
def test_a_served_ad_token_is_verified_or_not_found_whatever_it_holds(token):
    key = b"k" * 32
    for candidate in (token, f"{token}.{token}", f"YQ.{token}"):
        with pytest.raises(NotFound):
            tokens.verify(key, candidate, clock.now().timestamp())


def test_a_click_on_a_third_party_ad_has_no_page_here(client, make_account, ctx, media_dir):
    advertiser, publisher = make_account(Role.merchant), make_account(Role.merchant)
    body = {**overlay(None), "kind": "linear", "product_id": None, "vast_url": "http://127.0.0.1:9/tag.xml"}
    body["bid"] = {"model": "cpm", "price": eur(900)}
    created = client.post("/api/v1/campaigns", headers=advertiser.auth, json=body)
    assert created.status_code == 201, created.text
    with make_clip(media_dir / "ads-2s.mp4", 2, size="320x240").open("rb") as clip:
        video = client.post(
            "/api/v1/videos", headers=publisher.auth, data={"title": "Film"}, files={"file": ("c.mp4", clip)}
        ).json()
    wait_for(lambda: client.get(f"/api/v1/videos/{video['id']}").json()["status"] == "ready", message="the film")
    token = tokens.sign(
        ctx.store.signing_key, created.json()["id"], video["id"], "preroll", "anon:x", 900, clock.now().timestamp()
    )
    answer = client.get(f"/api/v1/ads/click/{quote(token)}", follow_redirects=False)
    assert answer.status_code == 404, answer.text
    report = client.get(f"/api/v1/campaigns/{created.json()['id']}/report", headers=advertiser.auth).json()
    assert report["clicks"] == 0  # nothing counted
