"""The page forms' shared rules: the CSRF token before anything else, who may post, a failed action keeps nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import PASSWORD
from tests.web.helpers import csrf_from, sign_in
from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role, User
from vetrina.db import Base
from vetrina.errors import Forbidden, InvalidInput
from vetrina.web.deps import CSRF_COOKIE
from vetrina.web.pages.forms import form_action

# Every form POST of the shop, campaign and partner pages, with the fields it requires.
PAGE_FORMS = [
    ("/p/1/buy", {}),
    ("/wallet/topups", {"amount": "not money"}),
    ("/orders/1/pay", {}),
    ("/orders/1/no-such-action", {}),
    ("/merchant/products", {"title": "Lamp", "price": "45.00"}),
    ("/merchant/products/1/images", {}),
    ("/merchant/channel", {"name": "Renamed"}),
    ("/merchant/channel/banner", {}),
    (
        "/merchant/campaigns",
        {"name": "C", "creative": "video:1", "bid": "1", "budget_total": "9", "budget_daily": "1"},
    ),
    ("/merchant/campaigns/1/status", {"status": "active"}),
    ("/partner/feeds", {"name": "Feed", "url": "https://example.com/feed.xml"}),
    ("/partner/feeds/1/runs", {}),
]
# Upload forms are checked from their headers before the body (and the token in it) is read: signed out, a 401.
UPLOAD_FORMS = {"/merchant/products/1/images", "/merchant/channel/banner"}


# The in-process workers' own bookkeeping, written whenever a minute turns, whatever the request did.
WORKERS_OWN = {"periodic_runs"}


def database(ctx) -> dict[str, list[tuple]]:
    """Every row of every table the request could touch, to see that nothing at all was written."""
    with ctx.db.engine.connect() as conn:
        return {
            t.name: sorted(map(tuple, conn.execute(select(t))), key=repr)
            for t in Base.metadata.sorted_tables
            if t.name not in WORKERS_OWN
        }


@pytest.mark.parametrize("path, data", PAGE_FORMS, ids=[p for p, _ in PAGE_FORMS])
def test_a_page_form_without_its_csrf_token_is_refused_before_anything_else(client, make_account, ctx, path, data):
    merchant = make_account(Role.merchant)
    product = client.post(
        "/api/v1/products", headers=merchant.auth, json={"title": "Lamp", "price": {"amount": 4500, "currency": "EUR"}}
    )
    assert product.status_code == 201
    csrf_from(client.get("/login").text)  # the CSRF cookie is set
    # Signed out: refused for the token, not sent to sign in.
    signed_out = client.post(path, data=data, follow_redirects=False)
    assert signed_out.status_code == (401 if path in UPLOAD_FORMS else 403)
    assert sign_in(client, merchant.user.email).status_code == 303
    before = database(ctx)
    for token in ("", "forged"):
        refused = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
        assert refused.status_code == 403, refused.text
    assert database(ctx) == before


def test_page_forms_need_a_sign_in_and_buying_sends_one_to_sign_in(client, make_account):
    token = csrf_from(client.get("/login").text)
    bought = client.post("/p/1/buy", data={"csrf_token": token}, follow_redirects=False)
    assert (bought.status_code, bought.headers["location"]) == (303, "/login?next=/p/1")
    for path, data in PAGE_FORMS[1:]:
        assert client.post(path, data={**data, "csrf_token": token}, follow_redirects=False).status_code == 401, path
    sign_in(client, make_account(Role.viewer).user.email)
    for path in ("/merchant/campaigns", "/partner/feeds"):
        data = dict(PAGE_FORMS)[path]
        assert client.post(path, data={**data, "csrf_token": token}, follow_redirects=False).status_code == 403, path


def test_a_failed_page_form_keeps_nothing_and_shows_why(client, make_account, ctx):
    merchant = make_account(Role.merchant)
    sign_in(client, merchant.user.email)
    token = csrf_from(client.get("/merchant").text)
    form = {"csrf_token": token, "title": "Lamp", "price": "45.00", "stock": "2", "published": "true"}
    assert "Saved" in client.post("/merchant/products", data=form).text
    [product] = client.get(f"/api/v1/merchants/{merchant.user.id}/products", headers=merchant.auth).json()["items"]
    before = database(ctx)
    # The title is changed before the variants are refused: the change must go with them.
    edit = {**form, "product_id": str(product["id"]), "title": "Desk lamp", "variants": "Red = 1\nred = 2"}
    refused = client.post("/merchant/products", data=edit, follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/merchant?msg=Variant%20names%20must%20differ."
    assert database(ctx) == before
    unknown = client.post("/orders/1/refund-all", data={"csrf_token": token, "back": "/merchant"})
    assert unknown.url.path == "/merchant" and "Unknown action." in unknown.text
    assert database(ctx) == before


def test_form_action_runs_the_action_in_its_own_transaction(ctx, make_account):
    """The helper alone: CSRF first, a failed action's writes rolled back, a good one's result in the message."""
    merchant = make_account(Role.merchant)
    app = FastAPI()
    app.state.ctx = ctx

    @app.post("/form")
    def form(request: Request, csrf: str, fail: bool) -> Response:
        def action(ctx, session, user: User) -> str:
            accounts.create_user(session, "made-by-the-form@example.com", PASSWORD, Role.viewer)
            session.flush()
            if fail:
                raise InvalidInput("No, not like that.")
            return user.email

        return form_action(
            request, csrf, merchant.user, back="/back", done_at="/done", done=lambda e: f"By {e}.", action=action
        )

    def users() -> int:
        with ctx.db.session() as session:
            return len(session.scalars(select(User)).all())

    http = TestClient(app, cookies={CSRF_COOKIE: "t"})
    count = users()
    with pytest.raises(Forbidden):
        http.post("/form", params={"csrf": "wrong", "fail": False})
    failed = http.post("/form", params={"csrf": "t", "fail": True}, follow_redirects=False)
    assert failed.headers["location"] == "/back?msg=No%2C%20not%20like%20that."
    assert users() == count
    done = http.post("/form", params={"csrf": "t", "fail": False}, follow_redirects=False)
    assert done.headers["location"] == "/done?msg=" + quote(f"By {merchant.user.email}.")
    assert users() == count + 1


def test_the_campaign_form_starts_a_campaign_at_the_clocks_second(client, make_account):
    clock.set_clock(lambda: datetime(2031, 5, 6, 7, 8, 9, 654_321, tzinfo=UTC))
    merchant = make_account(Role.merchant)
    product = client.post(
        "/api/v1/products", headers=merchant.auth, json={"title": "Lamp", "price": {"amount": 4500, "currency": "EUR"}}
    ).json()
    sign_in(client, merchant.user.email)
    token = csrf_from(client.get("/merchant/campaigns").text)
    form = {
        "name": "C",
        "creative": f"product:{product['id']}",
        "bid": "0.50",
        "budget_total": "9",
        "budget_daily": "1",
    }
    saved = client.post("/merchant/campaigns", data={**form, "days": "3", "csrf_token": token}, follow_redirects=False)
    assert saved.headers["location"] == "/merchant/campaigns?msg=" + quote(
        "Campaign saved as a draft: start it when ready."
    )
    [campaign] = client.get("/api/v1/campaigns", headers=merchant.auth).json()
    starts, ends = (datetime.fromisoformat(campaign[k]) for k in ("starts_at", "ends_at"))
    assert (starts, ends - starts) == (datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC), timedelta(days=3))
