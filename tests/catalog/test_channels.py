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


def test_a_channel_has_brand_colours_and_a_banner_only_its_merchant_sets(client, make_account):
    from tests.studio.helpers import photo_bytes

    merchant, rival = make_account(Role.merchant), make_account(Role.merchant)
    handle = client.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"]
    url = f"/api/v1/channels/{handle}"
    changed = client.patch(url, headers=merchant.auth, json={"brand_color": "#AA3300", "text_color": "#fefefe"})
    assert changed.status_code == 200 and (changed.json()["brand_color"], changed.json()["text_color"]) == (
        "#aa3300",
        "#fefefe",
    )
    for bad in ["red", "#12345", "#gggggg", "#1234567"]:
        assert client.patch(url, headers=merchant.auth, json={"brand_color": bad}).status_code == 422, bad
    banner = {"file": ("b.jpg", photo_bytes((10, 20, 30), size=(1600, 400)), "image/jpeg")}
    assert client.post(f"{url}/banner", headers=rival.auth, files=banner).status_code == 403
    not_an_image = {"file": ("b.jpg", b"plain text", "image/jpeg")}
    assert client.post(f"{url}/banner", headers=merchant.auth, files=not_an_image).status_code == 415
    assert client.get(url).json()["banner_url"] is None
    uploaded = client.post(f"{url}/banner", headers=merchant.auth, files=banner)
    assert uploaded.status_code == 200, uploaded.text
    assert client.get(uploaded.json()["banner_url"]).headers["content-type"] == "image/jpeg"
    page = client.get(f"/c/{handle}").text
    assert "--brand: #aa3300" in page and 'class="channel-banner"' in page


def test_the_merchant_desk_edits_the_channel_and_its_banner(client, make_account):
    from tests.studio.helpers import photo_bytes
    from tests.web.helpers import csrf_from, sign_in

    merchant = make_account(Role.merchant)
    sign_in(client, merchant.user.email)
    token = csrf_from(client.get("/merchant").text)
    form = {"name": "Atelier Blu", "description": "Ceramics.", "brand_color": "#123456", "text_color": "#fafafa"}
    assert client.post("/merchant/channel", data={**form, "csrf_token": "forged"}).status_code == 403
    saved = client.post("/merchant/channel", data={**form, "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303 and "Channel%20saved" in saved.headers["location"]
    bad = client.post("/merchant/channel", data={**form, "brand_color": "blue", "csrf_token": token})
    assert "#rrggbb" in bad.text  # shown on the desk, nothing changed
    channel = client.get("/api/v1/me/channel").json()
    assert (channel["name"], channel["brand_color"], channel["text_color"]) == ("Atelier Blu", "#123456", "#fafafa")
    banner = {"file": ("b.jpg", photo_bytes((9, 9, 9), size=(1200, 300)), "image/jpeg")}
    uploaded = client.post("/merchant/channel/banner", data={"csrf_token": token}, files=banner, follow_redirects=False)
    assert uploaded.status_code == 303 and client.get("/api/v1/me/channel").json()["banner_url"]


def test_a_channel_renamed_to_another_merchants_default_handle_leaves_that_merchant_a_working_channel(
    client, make_account
):
    from tests.web.helpers import sign_in

    squatter, victim = make_account(Role.merchant), make_account(Role.merchant, email="Bottega.Neri@example.com")
    squatted = f"bottega-neri-{victim.user.id}"  # the victim's default handle, before its channel is made
    handle = client.get("/api/v1/me/channel", headers=squatter.auth).json()["handle"]
    renamed = client.patch(f"/api/v1/channels/{handle}", headers=squatter.auth, json={"handle": squatted})
    assert renamed.status_code == 200, renamed.text
    own = client.get("/api/v1/me/channel", headers=victim.auth)
    assert own.status_code == 200, own.text
    assert own.json()["handle"].startswith("bottega-neri-") and own.json()["handle"] != squatted
    assert own.json()["merchant_id"] == victim.user.id
    assert client.get("/api/v1/me/channel", headers=victim.auth).json()["handle"] == own.json()["handle"]
    assert client.get(f"/api/v1/channels/{squatted}").json()["merchant_id"] == squatter.user.id
    sign_in(client, victim.user.email)
    assert client.get("/merchant").status_code == 200
