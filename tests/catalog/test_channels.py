"""Merchants' channels: one each, a handle of their choosing, followers, and a public page."""

from __future__ import annotations

import re

from tests.commerce.helpers import product
from vetrina.accounts.models import Role


def test_every_merchant_has_a_channel_it_can_rename(client, make_account):
    merchant = make_account(Role.merchant, email="Atelier.Rosa@example.com")
    mine = client.get("/api/v1/me/channel", headers=merchant.auth).json()
    assert mine["handle"] == f"atelier-rosa-{merchant.user.id}" and mine["merchant_id"] == merchant.user.id
    assert client.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"] == mine["handle"]  # one only
    item = product(client, merchant)
    changes = {"handle": "atelier-rosa", "name": "Atelier Rosa", "description": "Linen, mostly."}
    renamed = client.patch(f"/api/v1/channels/{mine['handle']}", headers=merchant.auth, json=changes)
    assert renamed.status_code == 200 and renamed.json()["handle"] == "atelier-rosa"
    public = client.get("/api/v1/channels/atelier-rosa").json()
    assert [p["id"] for p in public["products"]] == [item["id"]] and public["videos"] == []
    page = client.get("/c/atelier-rosa")
    assert page.status_code == 200 and "Atelier Rosa" in page.text and item["title"] in page.text


def test_handles_are_checked_and_channels_belong_to_their_merchant(client, make_account):
    merchant, rival, viewer = make_account(Role.merchant), make_account(Role.merchant), make_account(Role.viewer)
    handle = client.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"]
    rival_handle = client.get("/api/v1/me/channel", headers=rival.auth).json()["handle"]
    url = f"/api/v1/channels/{handle}"
    assert client.patch(url, headers=rival.auth, json={"name": "Mine"}).status_code == 403
    for bad in ["x", "Has Space", "double--hyphen", "-edge", "admin", "ü-nicode"]:
        assert client.patch(url, headers=merchant.auth, json={"handle": bad}).status_code == 422, bad
    assert client.patch(url, headers=merchant.auth, json={"handle": rival_handle}).status_code == 409
    assert client.patch(url, headers=merchant.auth, json={"name": "  "}).status_code == 422
    assert client.get("/api/v1/me/channel", headers=viewer.auth).status_code == 403
    assert client.get("/api/v1/channels/no-such-channel").status_code == 404


def test_viewers_follow_and_unfollow(client, make_account):
    merchant, viewer = make_account(Role.merchant), make_account(Role.viewer)
    handle = client.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"]
    for _ in range(2):  # following twice is following once
        assert client.post(f"/api/v1/channels/{handle}/follow", headers=viewer.auth).status_code == 204
    seen = client.get(f"/api/v1/channels/{handle}", headers=viewer.auth).json()
    assert (seen["followers"], seen["following"]) == (1, True)
    assert client.post(f"/api/v1/channels/{handle}/follow").status_code == 401
    assert client.delete(f"/api/v1/channels/{handle}/follow", headers=viewer.auth).status_code == 204
    assert client.get(f"/api/v1/channels/{handle}").json()["followers"] == 0
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/c/{handle}").text).group(1)
    assert client.post(f"/c/{handle}/follow", data={"csrf_token": "forged"}).status_code == 403
    assert client.post(f"/c/{handle}/follow", data={"csrf_token": token}, follow_redirects=False).status_code == 303
