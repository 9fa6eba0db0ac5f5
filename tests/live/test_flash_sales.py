"""Flash sales in a live show: the host offers a few units of a featured product at a lower price for 10 to 300 s;
the units leave the stock when the sale opens, each buyer takes at most its limit, the database holds both limits,
the order keeps the sale's price until the sale ends and its grace, and the units nobody took go back to stock."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.commerce.helpers import funded_buyer, product
from tests.live.helpers import live_show, sale_body
from tests.web.helpers import assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.commerce.jobs import sweep_orders


def test_a_flash_sale_sells_its_units_at_its_price_one_each_until_it_ends(client, ctx, make_account):
    ctx.queue.stop_in_process()  # this test runs the sweep itself, at moments it chooses
    merchant, stranger = make_account(Role.merchant), make_account(Role.merchant)
    tea = product(client, merchant, price=900, stock=5)["id"]
    other = product(client, merchant, price=900, stock=5)["id"]
    show = live_show(client, ctx, merchant, [tea])
    sales = f"/api/v1/live/{show['id']}/flash-sales"
    for bad in ({"seconds": 5}, {"seconds": 301}, {"per_buyer": 4}, {"price": {"amount": 900, "currency": "EUR"}}):
        assert client.post(sales, headers=merchant.auth, json=sale_body(tea, **bad)).status_code == 422, bad
    assert_problem(client.post(sales, headers=merchant.auth, json=sale_body(tea, quantity=6)), 409, "conflict")
    assert_problem(client.post(sales, headers=merchant.auth, json=sale_body(other)), 422, "invalid-input")
    assert_problem(client.post(sales, headers=stranger.auth, json=sale_body(tea)), 403, "forbidden")
    admin = make_account(Role.admin)  # the operator oversees shows, but never sells a host's stock
    assert_problem(client.post(sales, headers=admin.auth, json=sale_body(tea)), 403, "forbidden")

    opened = client.post(sales, headers=merchant.auth, json=sale_body(tea))
    assert opened.status_code == 201, opened.text
    sale = opened.json()
    assert sale["remaining"] == 3 and sale["open"] and sale["price_display"]
    assert client.get(f"/api/v1/products/{tea}").json()["stock"] == 2  # the sale's units left the stock
    assert client.get(f"/api/v1/flash-sales/{sale['sale_id']}").json()["remaining"] == 3

    buyer = funded_buyer(client, make_account)
    body = {"items": [{"product_id": tea, "quantity": 1}], "flash_sale_id": sale["sale_id"]}
    placed = client.post("/api/v1/orders", headers=buyer.auth, json=body)
    assert placed.status_code == 201, placed.text
    assert placed.json()["total"]["amount"] == 500  # the sale's price, not the product's 900
    ends_at = datetime.fromisoformat(sale["ends_at"])
    grace = timedelta(minutes=ctx.settings.flash_sale_grace_minutes)
    assert datetime.fromisoformat(placed.json()["expires_at"]) == ends_at + grace
    assert_problem(client.post("/api/v1/orders", headers=buyer.auth, json=body), 409, "flash-sale-refused")  # limit
    twice = {**body, "items": [{"product_id": tea, "quantity": 2}]}
    assert_problem(
        client.post("/api/v1/orders", headers=funded_buyer(client, make_account).auth, json=twice),
        409,
        "flash-sale-refused",
    )
    wrong = {**body, "items": [{"product_id": other, "quantity": 1}]}
    assert_problem(client.post("/api/v1/orders", headers=buyer.auth, json=wrong), 409, "flash-sale-refused")
    assert client.post(f"/api/v1/orders/{placed.json()['id']}/pay", headers=buyer.auth).status_code == 200
    assert client.get(f"/api/v1/flash-sales/{sale['sale_id']}").json()["remaining"] == 2
    withdrawn = {"published": False}  # a product withdrawn mid-sale is not sold in it either
    assert client.patch(f"/api/v1/products/{tea}", headers=merchant.auth, json=withdrawn).status_code == 200
    refused = client.post("/api/v1/orders", headers=funded_buyer(client, make_account).auth, json=body)
    assert_problem(refused, 409, "flash-sale-refused")
    assert "no longer for sale" in refused.json()["detail"]
    assert client.patch(f"/api/v1/products/{tea}", headers=merchant.auth, json={"published": True}).status_code == 200

    later = ends_at + timedelta(seconds=1)
    clock.set_clock(lambda: later)
    late = funded_buyer(client, make_account)
    assert_problem(client.post("/api/v1/orders", headers=late.auth, json=body), 409, "flash-sale-refused")
    sweep_orders(ctx)  # the sale closes: its two unsold units go back
    assert client.get(f"/api/v1/products/{tea}").json()["stock"] == 4
    sweep_orders(ctx)
    assert client.get(f"/api/v1/products/{tea}").json()["stock"] == 4  # once only
    assert not client.get(f"/api/v1/flash-sales/{sale['sale_id']}").json()["open"]


def test_the_host_ends_a_flash_sale_early_and_its_unsold_units_go_back(client, ctx, make_account):
    ctx.queue.stop_in_process()
    merchant, stranger = make_account(Role.merchant), make_account(Role.merchant)
    tea = product(client, merchant, price=900, stock=5)["id"]
    show = live_show(client, ctx, merchant, [tea])
    sale = client.post(f"/api/v1/live/{show['id']}/flash-sales", headers=merchant.auth, json=sale_body(tea)).json()
    buyer = funded_buyer(client, make_account)
    body = {"items": [{"product_id": tea, "quantity": 1}], "flash_sale_id": sale["sale_id"]}
    held = client.post("/api/v1/orders", headers=buyer.auth, json=body)
    assert held.status_code == 201
    end = f"/api/v1/live/{show['id']}/flash-sales/{sale['sale_id']}/end"
    assert_problem(client.post(end, headers=stranger.auth), 403, "forbidden")
    other_show = live_show(client, ctx, stranger, [])
    assert_problem(
        client.post(f"/api/v1/live/{other_show['id']}/flash-sales/{sale['sale_id']}/end", headers=stranger.auth),
        404,
        "not-found",
    )
    ended = client.post(end, headers=merchant.auth)
    assert ended.status_code == 200 and ended.json()["open"] is False and ended.json()["remaining"] == 2
    assert client.get(f"/api/v1/products/{tea}").json()["stock"] == 4  # 5, less the one bought; two came back
    late = funded_buyer(client, make_account)
    assert_problem(client.post("/api/v1/orders", headers=late.auth, json=body), 409, "flash-sale-refused")
    assert_problem(client.post(end, headers=merchant.auth), 409, "conflict")  # once
    paid = client.post(f"/api/v1/orders/{held.json()['id']}/pay", headers=buyer.auth)
    assert paid.status_code == 200  # a reservation made before the end keeps its price and time
