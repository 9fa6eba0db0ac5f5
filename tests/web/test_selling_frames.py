"""Buying inside another site's frame of the player (issue 16, item 10): only on sites the operator
(VETRINA_EMBED_ORIGINS) or the video's merchant (its channel settings) allowed; only those sites may then frame the
selling player; and the sign-in made there is good only there, for buying from that merchant's videos."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.commerce.helpers import funded_buyer, product
from tests.helpers import PASSWORD, Account, ready_video_row
from tests.web.helpers import app_with, assert_problem, form_token, sign_in
from vetrina.accounts.models import LoginSession, Role
from vetrina.context import Context
from vetrina.settings import Settings
from vetrina.web.deps import FRAMED_COOKIE, SESSION_COOKIE

SHOP = "https://shop.example"
EVIL = "https://evil.example"


@pytest.fixture
def https_client(ctx: Context) -> Iterator[TestClient]:
    """The app over HTTPS, as a browser reaches it in production (a framed sign-in's cookie is Secure)."""
    from vetrina.web.app import create_app

    with TestClient(create_app(ctx), base_url="https://testserver") as client:
        yield client


def shop_video(ctx: Context, client: TestClient, merchant: Account) -> tuple[int, dict]:
    """A ready, published video of `merchant` with one of its products tagged in it."""
    item = product(client, merchant, stock=20, published=True)
    with ctx.db.session(write=True) as session:
        video = ready_video_row(merchant.user.id)
        session.add(video)
        session.flush()
        video_id = video.id
    tagged = client.post(
        f"/api/v1/videos/{video_id}/tags",
        headers=merchant.auth,
        json={"product_id": item["id"], "start_s": 1, "end_s": 5},
    )
    assert tagged.status_code == 201, tagged.text
    return video_id, item


def allow(client: TestClient, merchant: Account, *origins: str) -> dict:
    handle = client.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"]
    response = client.patch(f"/api/v1/channels/{handle}", headers=merchant.auth, json={"embed_origins": list(origins)})
    assert response.status_code == 200, response.text
    return response.json()


@dataclass(frozen=True)
class FramedShop:
    merchant: Account
    video_id: int
    item: dict
    buyer: Account


def framed_shop(ctx: Context, client: TestClient, make_account) -> FramedShop:
    """A merchant's video with one of its products tagged in it, SHOP allowed to sell in its frames, and a buyer
    with money."""
    merchant = make_account(Role.merchant)
    video_id, item = shop_video(ctx, client, merchant)
    allow(client, merchant, SHOP)
    return FramedShop(merchant, video_id, item, funded_buyer(client, make_account))


def frame_policy(response) -> str:
    return re.search(r"frame-ancestors ([^;]+)", response.headers["content-security-policy"]).group(1)


def sign_in_framed(client: TestClient, buyer: Account, video_id: int, origin: str = SHOP, **headers: str):
    return client.post(
        "/api/v1/embed/session",
        headers={"X-Vetrina-Embed-Origin": origin, **headers},
        json={"email": buyer.user.email, "password": PASSWORD, "video_id": video_id},
    )


def framed(origin: str = SHOP, csrf: str | None = None) -> dict[str, str]:
    headers = {"X-Vetrina-Embed-Origin": origin}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return headers


def order_body(item: dict, video_id: int | None) -> dict:
    body: dict = {"items": [{"product_id": item["id"], "quantity": 1}]}
    if video_id is not None:
        body["source"] = {"video_id": video_id, "second": 2}
    return body


def test_a_merchant_lists_its_own_sites_checked_and_written_as_browsers_send_them(client, make_account):
    merchant = make_account(Role.merchant)
    channel = allow(client, merchant, "https://Shop.Example/", "https://shop.example:0443", "http://127.0.0.2:08080")
    assert channel["embed_origins"] == [SHOP, "http://127.0.0.2:8080"]
    handle = channel["handle"]
    # Only the merchant sees its list.
    assert client.get(f"/api/v1/channels/{handle}").json()["embed_origins"] is None
    assert (
        client.get(f"/api/v1/channels/{handle}", headers=make_account(Role.merchant).auth).json()["embed_origins"]
        is None
    )
    bad_origins = (
        ["*"],
        ["https://shop.example/path"],
        ["http://shop.example"],
        ["javascript:alert(1)"],
        ["a" * 301],
        ["https://shop.example:\u0664\u0664\u0663"],  # Arabic-Indic digits: no port a header can carry
        ["https://shop.example:\uff18\uff10"],
        ["https://shop.example:0"],
    )
    for bad in bad_origins:
        response = client.patch(f"/api/v1/channels/{handle}", headers=merchant.auth, json={"embed_origins": bad})
        assert response.status_code == 422, (bad, response.text)
    too_many = [f"https://s{n}.example" for n in range(21)]
    response = client.patch(f"/api/v1/channels/{handle}", headers=merchant.auth, json={"embed_origins": too_many})
    assert response.status_code == 422
    assert client.get("/api/v1/me/channel", headers=merchant.auth).json()["embed_origins"] == [
        SHOP,
        "http://127.0.0.2:8080",
    ]


def test_the_operators_origins_are_checked_at_start_up(settings: Settings):
    with pytest.raises(ValueError, match="not an https:// origin"):
        Settings(**{**settings.model_dump(), "embed_origins": ["http://shop.example"]})
    assert Settings(**{**settings.model_dump(), "embed_origins": ["https://A.example/"]}).embed_origins == [
        "https://a.example"
    ]


def test_only_an_allowed_site_may_frame_the_selling_player(ctx, client, make_account):
    merchant = make_account(Role.merchant)
    video_id, _item = shop_video(ctx, client, merchant)
    allow(client, merchant, SHOP)
    selling = client.get(f"/embed/{video_id}", params={"origin": "https://SHOP.example"})
    assert selling.status_code == 200
    assert frame_policy(selling) == SHOP  # the browser shows it in no other site's frame
    assert f'data-sell-in-frame="{SHOP}"' in selling.text
    for origin in (EVIL, "not an origin", "", "https://shop.example.evil.example"):
        plain = client.get(f"/embed/{video_id}", params={"origin": origin})
        assert plain.status_code == 200
        assert frame_policy(plain) == "*"  # any site may show the video; buying goes on at Vetrina
        assert 'data-sell-in-frame=""' in plain.text
    # Another merchant's site sells only that merchant's videos.
    other = make_account(Role.merchant)
    allow(client, other, EVIL)
    assert frame_policy(client.get(f"/embed/{video_id}", params={"origin": EVIL})) == "*"


def test_the_operators_sites_may_sell_in_frames_of_every_merchants_player(ctx, settings, make_account):
    with app_with(settings, embed_origins=[SHOP]) as (client, _site):
        merchant = make_account(Role.merchant)
        video_id, _item = shop_video(ctx, client, merchant)
        assert frame_policy(client.get(f"/embed/{video_id}", params={"origin": SHOP})) == SHOP


def test_a_sign_in_made_in_a_frame_buys_there_and_nowhere_else(ctx, https_client, make_account):
    client = https_client
    shop = framed_shop(ctx, client, make_account)
    video_id, item, buyer = shop.video_id, shop.item, shop.buyer

    signed_in = sign_in_framed(client, buyer, video_id)
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{FRAMED_COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=none", "Partitioned", "Path=/", "Max-Age=14400"):
        assert attribute.lower() in cookie.lower(), cookie  # a shopping visit's four hours, not the site's days
    assert "domain=" not in cookie.lower()
    csrf = signed_in.json()["csrf_token"]

    # It buys from the framed player: with the site's origin and the frame's CSRF token.
    made = client.post("/api/v1/orders", headers=framed(csrf=csrf), json=order_body(item, video_id))
    assert made.status_code == 201, made.text
    paid = client.post(f"/api/v1/orders/{made.json()['id']}/pay", headers=framed(csrf=csrf))
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "WAIT_SELLER_SEND_GOODS"

    # Without the frame's CSRF token, the write is refused; without the site's origin (or with another), the
    # cookie signs nobody in.
    assert_problem(client.post("/api/v1/orders", headers=framed(), json=order_body(item, video_id)), 403, "forbidden")
    assert_problem(
        client.post("/api/v1/orders", headers=framed(EVIL, csrf), json=order_body(item, video_id)),
        401,
        "not-authenticated",
    )
    bare = client.post("/api/v1/orders", headers={"X-CSRF-Token": csrf}, json=order_body(item, video_id))
    assert_problem(bare, 401, "not-authenticated")
    # Nothing but buying: orders' lists, the wallet, tokens and the password are out of its reach.
    out_of_reach = (
        ("GET", "/api/v1/orders"),
        ("GET", f"/api/v1/orders/{made.json()['id']}"),
        ("POST", f"/api/v1/orders/{made.json()['id']}/cancel"),
        ("GET", "/api/v1/wallet"),
        ("GET", "/api/v1/tokens"),
        ("GET", "/api/v1/me/channel"),
    )
    for method, path in out_of_reach:
        assert client.request(method, path, headers=framed(csrf=csrf)).status_code == 401, path
    # An order from it names the video it is bought from.
    assert_problem(
        client.post("/api/v1/orders", headers=framed(csrf=csrf), json=order_body(item, None)), 403, "forbidden"
    )

    # The frame's cookie is no site-wide sign-in.
    with TestClient(
        client.app, base_url="https://testserver", cookies={SESSION_COOKIE: client.cookies[FRAMED_COOKIE]}
    ) as elsewhere:
        assert elsewhere.get("/api/v1/wallet").status_code == 401


def test_a_merchants_site_sells_only_that_merchants_videos(ctx, https_client, make_account):
    client = https_client
    merchant, other = make_account(Role.merchant), make_account(Role.merchant)
    video_id, _item = shop_video(ctx, client, merchant)
    other_video, other_item = shop_video(ctx, client, other)
    allow(client, merchant, SHOP)
    allow(client, other, SHOP)  # the same site, allowed by both: a sign-in made for one buys from that one
    buyer = funded_buyer(client, make_account)
    csrf = sign_in_framed(client, buyer, video_id).json()["csrf_token"]
    refused = client.post("/api/v1/orders", headers=framed(csrf=csrf), json=order_body(other_item, other_video))
    assert_problem(refused, 403, "forbidden")
    # Nor pays the buyer's orders of other merchants, made at Vetrina.
    elsewhere = client.post("/api/v1/orders", headers=buyer.auth, json=order_body(other_item, None)).json()
    not_here = client.post(f"/api/v1/orders/{elsewhere['id']}/pay", headers=framed(csrf=csrf))
    assert_problem(not_here, 403, "forbidden")
    provider = client.post(
        f"/api/v1/orders/{elsewhere['id']}/payments", headers=framed(csrf=csrf), json={"provider": "sandbox"}
    )
    assert_problem(provider, 403, "forbidden")
    assert client.get(f"/api/v1/orders/{elsewhere['id']}", headers=buyer.auth).json()["status"] == "WAIT_BUYER_PAY"
    # A private video of the merchant is answered as one that does not exist.
    with ctx.db.session(write=True) as session:
        hidden = ready_video_row(merchant.user.id, published=False)
        session.add(hidden)
        session.flush()
        hidden_id = hidden.id
    for source in (hidden_id, 2**31 - 2):
        unseen = client.post("/api/v1/orders", headers=framed(csrf=csrf), json=order_body(_item, source))
        assert_problem(unseen, 422, "invalid-input")
    # A site no list names cannot sign in at all, and nothing is written.
    with ctx.db.session() as session:
        before = session.scalar(select(func.count()).select_from(LoginSession))
    assert_problem(sign_in_framed(client, buyer, video_id, EVIL), 403, "forbidden")
    assert_problem(sign_in_framed(client, buyer, video_id, "javascript:x"), 422, "invalid-input")
    assert_problem(sign_in_framed(client, buyer, 2**31 - 2), 422, "invalid-input")
    # Another site's page posting to it: refused by the browser's own word (and a custom header it cannot send).
    assert_problem(sign_in_framed(client, buyer, video_id, **{"Sec-Fetch-Site": "cross-site"}), 403, "forbidden")
    with ctx.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LoginSession)) == before


def test_removing_a_site_ends_its_frames_sign_ins_and_signing_out_ends_one(ctx, https_client, make_account):
    client = https_client
    shop = framed_shop(ctx, client, make_account)
    merchant, video_id, item, buyer = shop.merchant, shop.video_id, shop.item, shop.buyer
    csrf = sign_in_framed(client, buyer, video_id).json()["csrf_token"]
    payment = "/api/v1/payments/2147483000"  # signed in: "no such payment"; signed out: "sign in"
    assert client.get(payment, headers=framed()).status_code == 404
    allow(client, merchant)  # the merchant takes the site off its list
    assert client.get(payment, headers=framed()).status_code == 401
    allow(client, merchant, SHOP)
    assert client.get(payment, headers=framed()).status_code == 404
    # Signing out there needs the frame's CSRF token, then the cookie is worth nothing.
    assert_problem(client.delete("/api/v1/embed/session", headers=framed()), 403, "forbidden")
    assert client.delete("/api/v1/embed/session", headers=framed(csrf=csrf)).status_code == 204
    client.cookies.clear()
    with ctx.db.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(LoginSession).where(LoginSession.user_id == buyer.user.id))
            == 0
        )
    assert client.post("/api/v1/orders", headers=framed(csrf=csrf), json=order_body(item, video_id)).status_code == 401


def test_the_selling_player_shows_who_signed_in_there(ctx, https_client, make_account):
    client = https_client
    shop = framed_shop(ctx, client, make_account)
    merchant, video_id, _item, buyer = shop.merchant, shop.video_id, shop.item, shop.buyer
    csrf = sign_in_framed(client, buyer, video_id).json()["csrf_token"]
    page = client.get(f"/embed/{video_id}", params={"origin": SHOP})
    assert 'data-signed-in="true"' in page.text
    assert f'<meta name="csrf-token" content="{csrf}">' in page.text
    # A sign-in made for this merchant does not show on another merchant's player on the same site.
    other = make_account(Role.merchant)
    other_video, _other_item = shop_video(ctx, client, other)
    allow(client, other, SHOP)
    assert 'data-signed-in="false"' in client.get(f"/embed/{other_video}", params={"origin": SHOP}).text
    # The same cookie in a frame on another site's page (a browser without partitioned cookies) signs nobody in.
    allow(client, merchant, SHOP, EVIL)
    other = client.get(f"/embed/{video_id}", params={"origin": EVIL})
    assert 'data-signed-in="false"' in other.text and csrf not in other.text


def test_the_merchant_desk_saves_the_sites_one_per_line(client, make_account):
    merchant = make_account(Role.merchant)
    assert sign_in(client, merchant.user.email).status_code == 303
    token = form_token(client, "/merchant")
    fields = {
        "csrf_token": token,
        "name": "My shop",
        "embed_origins": "https://Shop.example\n\nhttp://localhost:8080\n",
    }
    saved = client.post("/merchant/channel", data=fields, follow_redirects=False)
    assert saved.status_code == 303 and "Channel%20saved" in saved.headers["location"]
    assert client.get("/api/v1/me/channel", headers=merchant.auth).json()["embed_origins"] == [
        SHOP,
        "http://localhost:8080",
    ]
    assert "http://localhost:8080" in client.get("/merchant").text
    refused = client.post(
        "/merchant/channel", data={**fields, "embed_origins": "https://*.example"}, follow_redirects=False
    )
    assert "origin" in refused.headers["location"]
    assert client.get("/api/v1/me/channel", headers=merchant.auth).json()["embed_origins"] == [
        SHOP,
        "http://localhost:8080",
    ]
