"""A flash sale over real HTTP: many buyers at once for a few units, each creating and paying with Idempotency-Keys
and retrying a shed 503 with the same key. Exactly the stock is sold and paid, and the ledger adds up."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.commerce.helpers import funded_buyer, ledger_ok, product
from vetrina.accounts.models import Role

BUYERS, UNITS = 24, 5


def _answer(http: httpx.Client, path: str, key: str, body: dict | None = None) -> httpx.Response:
    """POST until the answer is not a shed 503, always with the same key (a retry must never buy twice)."""
    for _ in range(50):
        response = http.post(path, headers={"Idempotency-Key": key}, json=body or {})
        if response.status_code != 503:
            return response
        assert response.headers["retry-after"]
    raise AssertionError(f"{path} was shed 50 times")


def test_a_flash_sale_sells_exactly_its_stock_once_each(live_server, make_account):
    admin, merchant = make_account(Role.admin), make_account(Role.merchant)
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        item = product(http, merchant, price=500, stock=UNITS)
        buyers = [funded_buyer(http, make_account, 5_000) for _ in range(BUYERS)]

    def buy(buyer) -> tuple[int, int | None]:
        with httpx.Client(base_url=live_server.url, headers=buyer.auth, timeout=60) as http:
            body = {"items": [{"product_id": item["id"], "quantity": 1}]}
            placed = _answer(http, "/api/v1/orders", uuid.uuid4().hex, body)
            if placed.status_code != 201:
                assert placed.status_code == 409 and "stock" in placed.json()["detail"], placed.text
                return placed.status_code, None
            paid = _answer(http, f"/api/v1/orders/{placed.json()['id']}/pay", uuid.uuid4().hex)
            assert paid.status_code == 200, paid.text
            return paid.status_code, placed.json()["id"]

    with ThreadPoolExecutor(BUYERS) as pool:
        outcomes = list(pool.map(buy, buyers))
    sold = [order_id for status, order_id in outcomes if order_id is not None]
    assert len(sold) == UNITS == len(set(sold))
    assert sum(status == 409 for status, _ in outcomes) == BUYERS - UNITS
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        assert http.get(f"/api/v1/products/{item['id']}").json()["stock"] == 0
        sales = http.get("/api/v1/orders?status=WAIT_SELLER_SEND_GOODS", headers=merchant.auth).json()
        assert sales["total"] == UNITS
        report = ledger_ok(http, admin)
    assert report["transfers"] >= BUYERS + UNITS  # every top-up, and one escrow hold per unit sold
