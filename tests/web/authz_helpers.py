"""The authorization matrix's machinery (its table is in test_authorization_matrix.py): every (method, path) the
app serves, a world of real objects for the path parameters to point at, one signed-in browser per role, and the
class of outcome an answer falls in."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from tests.ads.helpers import fund, linear
from tests.commerce.helpers import order, product
from tests.helpers import Account, finished_run_with_proposal, ready_video_row
from tests.studio.helpers import photo_bytes, spot_body
from tests.web.helpers import form_token, sign_in
from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role, User
from vetrina.context import Context
from vetrina.web.deps import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, MAX_ROW_ID

# Who asks, in the order each route's cells run: the owner and the operator last, so a write that should be
# refused to everyone else is tried on the objects before their own writes change them.
ROLES = ("anonymous", "viewer", "other_merchant", "other_buyer", "partner", "buyer", "owner", "admin")
# An id no row has: "hidden" cells must answer as they do for it.
UNKNOWN_ID = str(MAX_ROW_ID - 7)


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) the app answers, HTML pages and mounts included (HEAD is GET's twin).

    Walks the routers as included (this FastAPI keeps each included router whole, under its include prefix), so
    routes left out of the OpenAPI schema are found too."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:
                yield from walk(included.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Mount):
                yield "GET", prefix + route.path + "/{path:path}"
            else:
                for method in sorted(route.methods or ()):
                    if method != "HEAD":
                        yield method, prefix + route.path

    return sorted(set(walk(app.router.routes, "")))


@dataclass
class Party:
    """One party: its account (None for anonymous), its own browser (cookies: a session and a CSRF token)."""

    name: str
    browser: TestClient
    account: Account | None = None

    @property
    def bearer(self) -> dict[str, str]:
        return self.account.auth if self.account else {}

    @property
    def csrf(self) -> str:
        return self.browser.cookies.get(CSRF_COOKIE) or ""


@dataclass
class World:
    """The roles and the ids of real objects that path parameters name (all owned by the owner unless named)."""

    roles: dict[str, Party]
    ids: dict[str, str] = field(default_factory=dict)


def _browser(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def _party(app: FastAPI, name: str, account: Account | None) -> Party:
    browser = _browser(app)
    if account is None:
        form_token(browser, "/login")  # a CSRF cookie, so that forms are refused for who asks, not for the token
    else:
        assert sign_in(browser, account.user.email).status_code == 303
    return Party(name, browser, account)


def build_world(app: FastAPI, ctx: Context, make_account: Any) -> World:
    owner = make_account(Role.merchant)
    buyer = make_account(Role.viewer)
    partner = make_account(Role.partner)
    accounts_of = {
        "anonymous": None,
        "viewer": make_account(Role.viewer),
        "other_merchant": make_account(Role.merchant),
        "other_buyer": make_account(Role.viewer),
        "partner": partner,
        "buyer": buyer,
        "admin": make_account(Role.admin),
        "owner": owner,
    }
    world = World({name: _party(app, name, account) for name, account in accounts_of.items()})
    api = _browser(app)
    ids = world.ids

    def ok(response, status: int = 200) -> dict:
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()

    # The owner's shop: a product with a photo, a ready published video with a tag, a channel.
    item = product(api, owner, stock=50, published=True)
    ids["product_id"] = str(item["id"])
    photo = {"file": ("p.jpg", photo_bytes((200, 80, 60)), "image/jpeg")}
    image = ok(api.post(f"/api/v1/products/{item['id']}/images", headers=owner.auth, files=photo), 201)
    ids["image_id"] = str(image["id"])
    with ctx.db.session(write=True) as session:
        video = ready_video_row(owner.user.id)
        licensed = ready_video_row(owner.user.id, title="Licensed")
        session.add_all([video, licensed])
        session.flush()
        ids["video_id"], licensed_id = str(video.id), licensed.id
    tag = ok(
        api.post(
            f"/api/v1/videos/{ids['video_id']}/tags",
            headers=owner.auth,
            json={"product_id": item["id"], "start_s": 1, "end_s": 5},
        ),
        201,
    )
    ids["tag_id"] = str(tag["id"])
    with ctx.db.session(write=True) as session:
        run, proposal = finished_run_with_proposal(session, int(ids["video_id"]), owner.user.id, item["id"], 10, 12)
        ids["autotag_run_id"], ids["proposal_id"] = str(run.id), str(proposal.id)
    ids["handle"] = ok(api.get("/api/v1/me/channel", headers=owner.auth))["handle"]

    # Ads and rights: a campaign, a licence (on a second title, so the first plays everywhere).
    fund(ctx, owner)
    campaign = ok(api.post("/api/v1/campaigns", headers=owner.auth, json=linear(int(ids["video_id"]))), 201)
    ids["campaign_id"] = str(campaign["id"])
    now = clock.now()
    licence = {
        "video_id": licensed_id,
        "distributor": "Dist",
        "territories": ["FR"],
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
    }
    ids["licence_id"] = str(ok(api.post("/api/v1/licences", headers=owner.auth, json=licence), 201)["id"])

    # Money: the buyer's top-up and paid order of the owner's product, a refund asked for, the owner's payout.
    ok(api.post("/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 50_000, "currency": "EUR"}), 201)
    topups = ok(api.get("/api/v1/wallet/topups", headers=buyer.auth))["items"]
    ids["topup_id"] = str(topups[0]["id"]) if topups else UNKNOWN_ID
    for other in ("other_buyer",):
        account = accounts_of[other]
        api.post("/api/v1/wallet/topups", headers=account.auth, json={"amount": 50_000, "currency": "EUR"})
    placed = order(api, buyer, item["id"])
    ids["order_id"] = str(placed["id"])
    ok(api.post(f"/api/v1/orders/{placed['id']}/pay", headers=buyer.auth, json={}))
    refund = ok(api.post(f"/api/v1/orders/{placed['id']}/refunds", headers=buyer.auth, json={"reason": "torn"}), 201)
    ids["refund_id"] = str(refund["id"])
    unpaid = order(api, buyer, item["id"])
    ids["unpaid_order_id"] = str(unpaid["id"])
    ids["payable_order_id"] = str(order(api, buyer, item["id"])["id"])
    paid_by_provider = order(api, buyer, item["id"])
    payment = api.post(
        f"/api/v1/orders/{paid_by_provider['id']}/payments", headers=buyer.auth, json={"provider": "sandbox"}
    )
    ids["payment_id"] = str(ok(payment, 202)["id"])
    account_body = {"bank_details": "IBAN DE89 3704 0044 0532 0130 00"}
    ok(api.put("/api/v1/payouts/account", headers=owner.auth, json=account_body))
    payout = api.post("/api/v1/payouts", headers=owner.auth, json={"amount": {"amount": 1000, "currency": "EUR"}})
    ids["payout_id"] = str(ok(payout, 201)["id"])
    ids["buyer_user_id"] = str(buyer.user.id)

    # Integrations: a webhook endpoint, a studio spot, a spare API token, the partner's feed and a run of it.
    hook = api.post("/api/v1/webhooks", headers=owner.auth, json={"url": "https://93.184.215.14/hook"})
    ids["endpoint_id"] = str(ok(hook, 201)["id"])
    spot = ok(api.post("/api/v1/studio/spots", headers=owner.auth, json=spot_body(item["id"])), 202)
    ids["spot_id"] = str(spot["id"])
    with ctx.db.session(write=True) as session:
        for _ in range(2):
            accounts.create_api_token(session, session.get(User, owner.user.id))
    tokens = sorted(token["id"] for token in ok(api.get("/api/v1/tokens", headers=owner.auth))["items"])
    ids["token_id"], ids["page_token_id"] = str(tokens[-1]), str(tokens[-2])
    feed_body = {"name": "Catalogue", "url": "https://93.184.215.14/catalogue.xml"}
    ids["feed_id"] = str(ok(api.post("/api/v1/partners/feeds", headers=partner.auth, json=feed_body), 201)["id"])
    run_started = api.post(f"/api/v1/partners/feeds/{ids['feed_id']}/runs", headers=partner.auth, json={})
    ids["feed_run_id"] = str(ok(run_started, 202)["run_id"])
    ids["decision_id"] = secrets.token_hex(8)

    # Live: the owner's scheduled show; the RTMP server's callbacks asked on a path whose secret nobody else knows.
    ids["show_id"] = str(ok(api.post("/api/v1/live", headers=owner.auth, json={"title": "Live"}), 201)["id"])
    ids["rtmp_secret"] = secrets.token_hex(16)
    return world


@dataclass
class Call:
    """One request of a row: its body (JSON, form fields or files) and how the API authenticates."""

    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    # API routes only a signed-in browser may use: sent with the session cookie and the CSRF header.
    browser: bool = False
    headers: dict[str, str] | None = None


def fill(template: str, ids: dict[str, str], names: dict[str, str]) -> str:
    """The path template with each parameter replaced by the id of its object (`names` renames a parameter)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return ids[names.get(name, name)]

    return re.sub(r"\{([^}]+)\}", value, template)


def with_ids(value: Any, ids: dict[str, str]) -> Any:
    """A body with its "{name}" placeholders replaced by ids: a whole-string placeholder becomes the number."""
    if isinstance(value, dict):
        return {key: with_ids(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [with_ids(item, ids) for item in value]
    if isinstance(value, str) and (whole := re.fullmatch(r"\{(\w+)\}", value)):
        return int(ids[whole.group(1)])
    return value


def send(role: Party, method: str, path: str, call: Call, ids: dict[str, str]) -> Any:
    headers: dict[str, str] = dict(call.headers or {})
    data = {key: str(value) for key, value in with_ids(call.data, ids).items()} if call.data is not None else None
    if path.startswith("/api/") and not call.browser:
        headers.update(role.bearer)  # a bearer token is who asks, whatever cookies come along
    elif method != "GET":
        headers[CSRF_HEADER] = role.csrf
        if not path.startswith("/api/"):
            data = {CSRF_FIELD: role.csrf, **(data or {})}
    return role.browser.request(
        method,
        path,
        headers=headers,
        json=with_ids(call.json, ids),
        data=data,
        files=call.files,
        # A query's "{name}" placeholders are filled wherever they stand (oEmbed's `url` holds a watch page's).
        params={key: fill(str(value), ids, {}) for key, value in (call.params or {}).items()},
    )


def outcome(response: Any) -> str:
    """The class of an answer: ok (2xx, or 3xx anywhere but the sign-in page), login, or its status code."""
    status = response.status_code
    if 300 <= status < 400:
        return "login" if urlsplit(response.headers["location"]).path == "/login" else "ok"
    if 200 <= status < 300:
        return "ok"
    return str(status)


def form_message(response: Any, ids: dict[str, str]) -> tuple[int, str]:
    """A form's answer as the status and the message it went back with, every id in it made anonymous."""
    message = parse_qs(urlsplit(response.headers.get("location", "")).query).get("msg", [""])[0]
    for value in sorted({*ids.values(), UNKNOWN_ID}, key=len, reverse=True):
        if value.isdigit():
            message = re.sub(rf"\b{value}\b", "#", message)
    return response.status_code, message
