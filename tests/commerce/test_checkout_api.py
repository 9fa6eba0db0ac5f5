"""Escrow checkout over the API: pay into escrow, ship, confirm (release less commission), refund, expire."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.commerce.helpers import funded_buyer, ledger_ok, order, product, step, wallet
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.commerce.jobs import sweep_orders


def test_the_whole_secured_trade(client, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    shirt = product(client, merchant, price=2500, stock=3)
    buyer = funded_buyer(client, make_account, 10_000)

    placed = order(client, buyer, shirt["id"], quantity=2)
    assert placed["status"] == "WAIT_BUYER_PAY"
    assert placed["total"] == {"amount": 5000, "currency": "EUR"}
    assert client.get(f"/api/v1/products/{shirt['id']}").json()["stock"] == 1

    paid = step(client, buyer, placed["id"], "pay")
    assert paid["status"] == "WAIT_SELLER_SEND_GOODS"
    assert wallet(client, buyer) == (5000, 5000)
    assert wallet(client, merchant) == (0, 5000)

    shipped = step(client, merchant, placed["id"], "ship", {"carrier": "DHL", "tracking": "JD0146"})
    assert shipped["status"] == "WAIT_BUYER_CONFIRM_GOODS" and shipped["auto_confirm_at"]

    finished = step(client, buyer, placed["id"], "confirm")
    assert finished["status"] == "TRADE_FINISHED"
    assert finished["commission"] == {"amount": 250, "currency": "EUR"}  # 5 %
    assert wallet(client, buyer) == (5000, 0)
    assert wallet(client, merchant) == (4750, 0)
    assert [e["action"] for e in finished["history"]] == ["created", "paid", "shipped", "confirmed"]
    report = ledger_ok(client, admin)
    assert report["total_debits"] > 0


def test_illegal_steps_are_409_with_the_current_state_and_change_nothing(client, make_account):
    merchant = make_account(Role.merchant)
    item = product(client, merchant)
    buyer = funded_buyer(client, make_account)
    placed = order(client, buyer, item["id"])
    early = step(client, buyer, placed["id"], "confirm", status=409)
    assert early["current_status"] == "WAIT_BUYER_PAY"
    step(client, merchant, placed["id"], "ship", {"carrier": "UPS", "tracking": "1Z"}, status=409)
    step(client, buyer, placed["id"], "pay")
    again = step(client, buyer, placed["id"], "pay", status=409)
    assert again["current_status"] == "WAIT_SELLER_SEND_GOODS"
    assert wallet(client, buyer) == (10_000 - 1999, 1999)
    step(client, buyer, placed["id"], "cancel", status=409)


def test_others_cannot_touch_an_order(client, make_account):
    merchant, rival = make_account(Role.merchant), make_account(Role.merchant)
    item = product(client, merchant)
    buyer, stranger = funded_buyer(client, make_account), funded_buyer(client, make_account)
    placed = order(client, buyer, item["id"])
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=stranger.auth).status_code == 404
    step(client, stranger, placed["id"], "pay", status=404)
    step(client, merchant, placed["id"], "pay", status=403)  # the seller cannot pay for the buyer
    step(client, buyer, placed["id"], "pay")
    step(client, buyer, placed["id"], "ship", {"carrier": "x", "tracking": "y"}, status=403)
    step(client, rival, placed["id"], "ship", {"carrier": "x", "tracking": "y"}, status=404)
    assert wallet(client, stranger) == (10_000, 0)


def test_products_belong_to_their_merchant(client, make_account):
    merchant, rival, viewer = make_account(Role.merchant), make_account(Role.merchant), make_account(Role.viewer)
    item = product(client, merchant)
    url = f"/api/v1/products/{item['id']}"
    assert client.patch(url, headers=rival.auth, json={"title": "Mine now"}).status_code == 403
    assert client.delete(url, headers=rival.auth).status_code == 403
    assert (
        client.post(
            "/api/v1/products", headers=viewer.auth, json={"title": "x", "price": {"amount": 100, "currency": "EUR"}}
        ).status_code
        == 403
    )
    assert client.get(url).json()["title"] == item["title"]
    changed = client.patch(url, headers=merchant.auth, json={"price": {"amount": 2999, "currency": "EUR"}})
    assert changed.status_code == 200 and changed.json()["price"]["amount"] == 2999
    listing = client.get(f"/api/v1/merchants/{merchant.user.id}/products").json()
    assert [p["id"] for p in listing["items"]] == [item["id"]]
    assert client.delete(url, headers=merchant.auth).status_code == 204
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x", "price": {"amount": 0, "currency": "EUR"}},
        {"title": "x", "price": {"amount": -5, "currency": "EUR"}},
        {"title": "x", "price": {"amount": 19.99, "currency": "EUR"}},
        {"title": "x", "price": {"amount": "1999", "currency": "EUR"}},
        {"title": "x", "price": {"amount": 1999, "currency": "EURO"}},
        {"title": "x", "price": {"amount": 1999, "currency": "XXX"}},
        {"title": "x", "price": {"amount": 1999}},
        {"title": "", "price": {"amount": 1999, "currency": "EUR"}},
        {"title": "x", "price": {"amount": 1999, "currency": "EUR"}, "stock": -1},
        {"title": "x", "price": {"amount": 1999, "currency": "EUR"}, "owner": 1},
        {"title": "x" * 201, "price": {"amount": 1999, "currency": "EUR"}},
    ],
)
def test_bad_products_are_refused(client, make_account, body):
    merchant = make_account(Role.merchant)
    response = client.post("/api/v1/products", headers=merchant.auth, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/merchants/{merchant.user.id}/products").json()["total"] == 0


def test_bad_orders_and_amounts_are_refused_and_change_nothing(client, make_account):
    merchant = make_account(Role.merchant)
    item = product(client, merchant, stock=2)
    buyer = funded_buyer(client, make_account, 1000)
    for items, status in [
        ([{"product_id": item["id"], "quantity": 0}], 422),
        ([{"product_id": item["id"], "quantity": 3}], 409),
        ([{"product_id": item["id"], "quantity": 1.5}], 422),
        ([{"product_id": 999999, "quantity": 1}], 404),
        ([], 422),
    ]:
        response = client.post("/api/v1/orders", headers=buyer.auth, json={"items": items})
        assert response.status_code == status, (items, response.text)
    assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 2
    own = client.post(
        "/api/v1/orders", headers=merchant.auth, json={"items": [{"product_id": item["id"], "quantity": 1}]}
    )
    assert own.status_code == 422
    bad_amounts = [
        {"amount": 0, "currency": "EUR"},
        {"amount": -100, "currency": "EUR"},
        {"amount": 5.5, "currency": "EUR"},
        {"amount": 100, "currency": "ZZZ"},
    ]
    for amount in bad_amounts:
        assert client.post("/api/v1/wallet/topups", headers=buyer.auth, json=amount).status_code == 422
    declined = client.post("/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 10**9, "currency": "EUR"})
    assert declined.status_code == 402
    assert wallet(client, buyer) == (1000, 0)
    placed = order(client, buyer, item["id"], quantity=1)
    poor = step(client, buyer, placed["id"], "pay", status=409)
    assert poor["type"].endswith("insufficient-funds")
    assert wallet(client, buyer) == (1000, 0)


def test_refunds_full_and_partial(client, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    item = product(client, merchant, price=4000)
    buyer = funded_buyer(client, make_account, 10_000)
    placed = order(client, buyer, item["id"])
    step(client, buyer, placed["id"], "pay")
    too_much = step(
        client,
        buyer,
        placed["id"],
        "refunds",
        {"amount": {"amount": 5000, "currency": "EUR"}, "reason": "x"},
        status=422,
    )
    assert "at most" in too_much["detail"]
    wrong_currency = {"amount": {"amount": 100, "currency": "USD"}, "reason": "x"}
    step(client, buyer, placed["id"], "refunds", wrong_currency, status=422)
    partial = step(
        client,
        buyer,
        placed["id"],
        "refunds",
        {"amount": {"amount": 1500, "currency": "EUR"}, "reason": "one sleeve is shorter"},
        status=201,
    )
    step(client, buyer, placed["id"], "refunds", {"reason": "again"}, status=409)  # one open request at a time
    step(client, buyer, placed["id"], f"refunds/{partial['id']}/accept", status=403)
    after = step(client, merchant, placed["id"], f"refunds/{partial['id']}/accept")
    assert after["status"] == "WAIT_SELLER_SEND_GOODS" and after["refunded"]["amount"] == 1500
    assert wallet(client, buyer) == (10_000 - 4000 + 1500, 2500)
    step(client, merchant, placed["id"], f"refunds/{partial['id']}/accept", status=409)

    rest = step(client, buyer, placed["id"], "refunds", {"reason": "changed my mind"}, status=201)
    assert rest["amount"]["amount"] == 2500
    closed = step(client, admin, placed["id"], f"refunds/{rest['id']}/accept")
    assert closed["status"] == "TRADE_CLOSED"
    assert wallet(client, buyer) == (10_000, 0)
    assert wallet(client, merchant) == (0, 0)
    ledger_ok(client, admin)


def test_open_refund_pauses_auto_confirm_and_unpaid_orders_expire(client, make_account, ctx):
    merchant = make_account(Role.merchant)
    item = product(client, merchant, price=1000, stock=5)
    buyer = funded_buyer(client, make_account, 10_000)
    unpaid = order(client, buyer, item["id"], quantity=2)
    disputed, quiet = order(client, buyer, item["id"]), order(client, buyer, item["id"])
    for placed in (disputed, quiet):
        step(client, buyer, placed["id"], "pay")
        step(client, merchant, placed["id"], "ship", {"carrier": "DHL", "tracking": "1"})
    step(client, buyer, disputed["id"], "refunds", {"reason": "never arrived"}, status=201)
    assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 1

    later = clock.now() + timedelta(days=ctx.settings.auto_confirm_days + 1)
    clock.set_clock(lambda: later)
    assert sweep_orders(ctx) == (1, 1)
    clock.set_clock(None)
    get = lambda o: client.get(f"/api/v1/orders/{o['id']}", headers=buyer.auth).json()  # noqa: E731
    assert get(unpaid)["status"] == "TRADE_CLOSED" and get(unpaid)["history"][-1]["action"] == "expired"
    assert get(quiet)["status"] == "TRADE_FINISHED" and get(quiet)["history"][-1]["action"] == "auto_confirmed"
    assert get(disputed)["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 3
    assert wallet(client, merchant) == (950, 1000)


def test_variants_have_their_own_stock(client, make_account):
    merchant = make_account(Role.merchant)
    item = product(client, merchant, variants=[{"name": "S", "stock": 1}, {"name": "M", "stock": 2}])
    assert item["stock"] == 3
    small, medium = item["variants"]
    buyer = funded_buyer(client, make_account)
    no_variant = client.post(
        "/api/v1/orders", headers=buyer.auth, json={"items": [{"product_id": item["id"], "quantity": 1}]}
    )
    assert no_variant.status_code == 422
    order(client, buyer, item["id"], variant_id=small["id"])
    small_again = {"items": [{"product_id": item["id"], "variant_id": small["id"], "quantity": 1}]}
    sold_out = client.post("/api/v1/orders", headers=buyer.auth, json=small_again)
    assert sold_out.status_code == 409
    placed = order(client, buyer, item["id"], quantity=2, variant_id=medium["id"])
    assert placed["items"][0]["title"].endswith("(M)")
    assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 0


def test_only_admins_check_the_ledger(client, make_account):
    assert client.get("/api/v1/admin/ledger/check", headers=make_account(Role.merchant).auth).status_code == 403
    assert client.get("/api/v1/admin/ledger/check").status_code == 401


def test_admins_settle_refunds_but_do_not_act_as_the_buyer(client, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    item = product(client, merchant, stock=2)
    buyer = funded_buyer(client, make_account)
    placed = order(client, buyer, item["id"])
    step(client, admin, placed["id"], "pay", status=403)
    step(client, buyer, placed["id"], "pay")
    step(client, admin, placed["id"], "ship", {"carrier": "x", "tracking": "y"}, status=403)
    step(client, merchant, placed["id"], "ship", {"carrier": "x", "tracking": "y"})
    step(client, admin, placed["id"], "confirm", status=403)
    step(client, admin, placed["id"], "refunds", {"reason": "not mine"}, status=403)
    assert wallet(client, buyer) == (10_000 - 1999, 1999)


def test_text_with_control_characters_is_refused(client, make_account):
    merchant = make_account(Role.merchant)
    bad_title = client.post(
        "/api/v1/products",
        headers=merchant.auth,
        json={"title": "Scarf\x00", "price": {"amount": 100, "currency": "EUR"}},
    )
    assert bad_title.status_code == 422
    item = product(client, merchant)
    buyer = funded_buyer(client, make_account)
    placed = order(client, buyer, item["id"])
    step(client, buyer, placed["id"], "pay")
    step(client, buyer, placed["id"], "refunds", {"reason": "bad\x00"}, status=422)
    step(client, merchant, placed["id"], "ship", {"carrier": "DHL\x00", "tracking": "1"}, status=422)
    hook = client.post("/api/v1/webhooks", headers=merchant.auth, json={"url": "http://[::1x/hooks"})
    assert hook.status_code == 422


def test_a_full_refund_before_shipping_restocks_and_requests_are_capped(client, make_account):
    merchant = make_account(Role.merchant)
    item = product(client, merchant, stock=2)
    buyer = funded_buyer(client, make_account)
    placed = order(client, buyer, item["id"], quantity=2)
    step(client, buyer, placed["id"], "pay")
    refund = step(client, buyer, placed["id"], "refunds", {"reason": "too slow"}, status=201)
    step(client, merchant, placed["id"], f"refunds/{refund['id']}/accept")
    assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 2

    again = order(client, buyer, item["id"])
    step(client, buyer, again["id"], "pay")
    for _ in range(3):
        asked = step(client, buyer, again["id"], "refunds", {"reason": "please"}, status=201)
        step(client, merchant, again["id"], f"refunds/{asked['id']}/reject", {"note": "no"})
    capped = step(client, buyer, again["id"], "refunds", {"reason": "please!"}, status=409)
    assert "at most 3" in capped["detail"]
