"""The bank test: 20+ concurrent HTTP clients buy, pay, ship, confirm and refund at random for a few thousand
operations. At every read the ledger balances; stock is conserved and never oversold; every idempotent retry
returns the first answer and creates nothing twice; at the end every wallet holds exactly what the test's own
record of top-ups and orders says, and all of it together is what was topped up."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from vetrina.accounts.models import Role

pytestmark = pytest.mark.slow
BUYERS = 20
MERCHANTS = 3
OPS_PER_BUYER = 100
STOCK = 40
TOPUP = 20_000
# Paid and not yet settled: the money is held in escrow.
IN_ESCROW = {"WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_CONFIRM_GOODS"}


class Client:
    """One HTTP client; every money or stock move carries an Idempotency-Key, and one in five is re-sent."""

    def __init__(self, url: str, token: str, rng: random.Random, log: list) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.rng, self.log = rng, log

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        key = uuid.uuid4().hex
        headers = {"Idempotency-Key": key}
        first = self.http.post(path, json=body or {}, headers=headers)
        if self.rng.random() < 0.2:
            again = self.http.post(path, json=body or {}, headers=headers)
            self.log.append(
                (
                    path,
                    first.status_code,
                    first.json(),
                    again.status_code,
                    again.json(),
                    again.headers.get("idempotent-replayed"),
                )
            )
        if path == "/api/v1/orders" and first.status_code == 201:
            self.log.append(("created", key, first.json()["id"]))
        return first

    def get(self, path: str) -> dict:
        return self.http.get(path).json()


def test_bank(live_server, make_account):
    rng = random.Random(20261127)
    admin = make_account(Role.admin)
    merchants = [make_account(Role.merchant) for _ in range(MERCHANTS)]
    buyers = [make_account(Role.viewer) for _ in range(BUYERS)]
    log: list = []
    setup = Client(live_server.url, admin.token, rng, [])
    products = []
    for merchant in merchants:
        seller = Client(live_server.url, merchant.token, random.Random(1), [])
        for _ in range(3):
            body = {"title": "Item", "price": {"amount": rng.randint(100, 2500), "currency": "EUR"}, "stock": STOCK}
            products.append(seller.http.post("/api/v1/products", json=body).json()["id"])
    topped_up = Counter()  # buyer's user id -> what the funding provider put in that wallet (only 201s count)
    for buyer in buyers:
        response = Client(live_server.url, buyer.token, random.Random(2), []).http.post(
            "/api/v1/wallet/topups", json={"amount": TOPUP, "currency": "EUR"}
        )
        assert response.status_code == 201, response.text
        topped_up[buyer.user.id] += TOPUP

    failures: list[str] = []
    done = threading.Event()

    def check_invariants() -> None:
        while not done.is_set():
            report = setup.get("/api/v1/admin/ledger/check")
            if not report["ok"] or report["total_debits"] != report["total_credits"]:
                failures.append(f"ledger: {report['violations'][:3]}")
            for product_id in products:
                if setup.get(f"/api/v1/products/{product_id}")["stock"] < 0:
                    failures.append(f"product {product_id} below zero")
            done.wait(0.2)

    def buyer_loop(account, seed: int) -> None:
        client = Client(live_server.url, account.token, random.Random(seed), log)
        mine: list[int] = []
        for _ in range(OPS_PER_BUYER):
            roll = client.rng.random()
            if roll < 0.35 or not mine:
                items = [{"product_id": client.rng.choice(products), "quantity": client.rng.randint(1, 3)}]
                response = client.post("/api/v1/orders", {"items": items})
                if response.status_code == 201:
                    mine.append(response.json()["id"])
                elif response.status_code not in (409, 422):
                    failures.append(f"order: {response.status_code} {response.text}")
                continue
            order_id = client.rng.choice(mine)
            action = client.rng.choice(["pay", "pay", "confirm", "refunds", "cancel", "topup"])
            if action == "topup":
                amount = client.rng.randint(1, 3000)
                response = client.post("/api/v1/wallet/topups", {"amount": amount, "currency": "EUR"})
                if response.status_code == 201:
                    topped_up[account.user.id] += amount  # this thread's own key
            elif action == "refunds":
                response = client.post(f"/api/v1/orders/{order_id}/refunds", {"reason": "changed my mind"})
            else:
                response = client.post(f"/api/v1/orders/{order_id}/{action}")
            if response.status_code >= 500:
                failures.append(f"{action}: {response.status_code} {response.text}")

    def merchant_loop(account, seed: int) -> None:
        client = Client(live_server.url, account.token, random.Random(seed), log)
        while not buyers_done.is_set():
            for order in client.get("/api/v1/orders?status=WAIT_SELLER_SEND_GOODS&per_page=20")["items"]:
                open_refund = [r for r in order["refunds"] if r["status"] == "requested"]
                if open_refund and client.rng.random() < 0.7:
                    client.post(f"/api/v1/orders/{order['id']}/refunds/{open_refund[0]['id']}/accept")
                else:
                    client.post(f"/api/v1/orders/{order['id']}/ship", {"carrier": "DHL", "tracking": "T"})
            for order in client.get("/api/v1/orders?status=WAIT_BUYER_CONFIRM_GOODS&per_page=20")["items"]:
                open_refund = [r for r in order["refunds"] if r["status"] == "requested"]
                if open_refund:
                    client.post(f"/api/v1/orders/{order['id']}/refunds/{open_refund[0]['id']}/accept")

    buyers_done = threading.Event()
    checker = threading.Thread(target=check_invariants)
    sellers = [threading.Thread(target=merchant_loop, args=(m, i)) for i, m in enumerate(merchants)]
    shoppers = [threading.Thread(target=buyer_loop, args=(b, 100 + i)) for i, b in enumerate(buyers)]
    for thread in [checker, *sellers, *shoppers]:
        thread.start()
    for thread in shoppers:
        thread.join(timeout=600)
    buyers_done.set()
    for thread in sellers:
        thread.join(timeout=60)
    done.set()
    checker.join(timeout=60)
    assert failures == []

    # Every retry answered exactly what the first attempt answered.
    retries = [entry for entry in log if len(entry) == 6]
    assert len(retries) > 100
    for path, status, body, again_status, again_body, replayed in retries:
        assert (again_status, again_body) == (status, body), path
        assert replayed == "true"

    # Nothing was created twice, and stock was neither lost nor oversold.
    created = [entry for entry in log if entry[0] == "created"]
    assert len({key for _, key, _ in created}) == len(created)
    all_orders = []
    for buyer in buyers:
        client = Client(live_server.url, buyer.token, rng, [])
        page = client.get("/api/v1/orders?per_page=100")
        assert page["total"] <= 100
        all_orders += page["items"]
    assert sorted(o["id"] for o in all_orders) == sorted(order_id for _, _, order_id in created)
    taken = Counter()
    for order in all_orders:
        # Units stay out of stock while an order waits for payment, and once paid, unless it was fully
        # refunded before it shipped (those go back on the shelf).
        refunded_unshipped = order["status"] == "TRADE_CLOSED" and not order["shipped_at"]
        if order["status"] == "WAIT_BUYER_PAY" or (order["paid_at"] and not refunded_unshipped):
            for item in order["items"]:
                taken[item["product_id"]] += item["quantity"]
    for product_id in products:
        assert setup.get(f"/api/v1/products/{product_id}")["stock"] + taken[product_id] == STOCK
    statuses = Counter(o["status"] for o in all_orders)
    assert statuses["TRADE_FINISHED"] > 0 and statuses["TRADE_CLOSED"] > 0, statuses

    # Money, from the test's own record: a buyer's wallet holds what it was topped up with, less what its
    # finished orders kept (their total less accepted refunds) and less what its paid, unsettled orders still
    # hold in escrow (its `held`); a merchant's holds what its finished orders kept less their commission,
    # with its unsettled sales as `held`. Unpaid orders moved nothing; paid orders closed since were refunded
    # in full.
    report = setup.get("/api/v1/admin/ledger/check")
    assert report["ok"], report["violations"]

    def kept(order: dict) -> int:
        return order["total"]["amount"] - order["refunded"]["amount"]

    for order in all_orders:
        assert order["total"]["currency"] == "EUR", order
        if order["status"] == "TRADE_FINISHED":
            assert 0 <= order["commission"]["amount"] <= kept(order), order
        else:
            assert order["commission"]["amount"] == 0, order
        if not order["paid_at"]:
            assert order["refunded"]["amount"] == 0, order
        elif order["status"] == "TRADE_CLOSED":
            assert kept(order) == 0, order
    expected, actual = {}, {}
    for buyer in buyers:
        mine = [o for o in all_orders if o["buyer_id"] == buyer.user.id]
        held = sum(kept(o) for o in mine if o["status"] in IN_ESCROW)
        spent = sum(kept(o) for o in mine if o["status"] == "TRADE_FINISHED")
        expected[buyer.user.id] = {"available": topped_up[buyer.user.id] - spent - held, "held": held}
    for merchant in merchants:
        sold = [o for o in all_orders if o["merchant_id"] == merchant.user.id]
        earned = sum(kept(o) - o["commission"]["amount"] for o in sold if o["status"] == "TRADE_FINISHED")
        expected[merchant.user.id] = {
            "available": earned,
            "held": sum(kept(o) for o in sold if o["status"] in IN_ESCROW),
        }
    for account in [*buyers, *merchants]:
        wallet = Client(live_server.url, account.token, rng, []).get("/api/v1/wallet")
        actual[account.user.id] = {"available": wallet["available"]["amount"], "held": wallet["held"]["amount"]}
    assert actual == expected

    # The platform's side, read from the ledger's own accounts: what escrow holds and the commission earned.
    platform = {
        family.name: sum(sample.value for sample in family.samples if sample.labels.get("currency") == "EUR")
        for family in text_string_to_metric_families(setup.http.get("/metrics").text)
    }
    in_escrow = sum(actual[b.user.id]["held"] for b in buyers)
    assert in_escrow == sum(actual[m.user.id]["held"] for m in merchants) == platform["vetrina_escrow_held"]
    commission = sum(o["commission"]["amount"] for o in all_orders)
    assert platform["vetrina_commission"] == commission
    # Nothing was made or lost: the wallets and the commission together hold every cent that was topped up.
    assert sum(w["available"] for w in actual.values()) + in_escrow + commission == sum(topped_up.values())
