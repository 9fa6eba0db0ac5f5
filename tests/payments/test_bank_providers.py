"""The bank test with real providers' ways: buyers pay from their wallets and through Alipay (QR), top up through
Alipay, and merchants ship and are paid out, all at once over real HTTP, while Alipay's notifications arrive
concurrently, duplicated and out of order (a close before the success, a forged amount first). At every read the
ledger balances; at the end every notified payment is credited exactly once, reconciliation finds nothing but the
forged amounts, and the money in every account adds up to what Alipay brought in."""

from __future__ import annotations

import queue
import random
import threading

import httpx
import pytest

from tests.payments.alipay_helpers import trade_for
from vetrina.accounts.models import Role

pytestmark = pytest.mark.slow
BUYERS = 8
MERCHANTS = 2
OPS_PER_BUYER = 30
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _http(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def _every(client: httpx.Client, path: str) -> list[dict]:
    """Every item of a paginated list."""
    items, page = [], 1
    while True:
        body = client.get(path, params={"page": page, "per_page": 100}).json()
        items += body["items"]
        if len(items) >= body["total"] or not body["items"]:
            return items
        page += 1


def test_bank_with_alipay_notifications_and_payouts(alipay_live, make_account):
    url, fake = alipay_live.url, alipay_live.fake
    rng = random.Random(20261205)
    admin = make_account(Role.admin)
    merchants = [make_account(Role.merchant) for _ in range(MERCHANTS)]
    buyers = [make_account(Role.viewer) for _ in range(BUYERS)]
    operator = _http(url, admin.token)
    products = []
    for merchant in merchants:
        with _http(url, merchant.token) as seller:
            for _ in range(2):
                body = {"title": "Tea", "price": {"amount": rng.randint(500, 3000), "currency": "CNY"}, "stock": 10**5}
                products.append(seller.post("/api/v1/products", json=body).json()["id"])

    failures: list[str] = []
    to_notify: queue.Queue = queue.Queue()
    notified_ok: dict[int, int] = {}  # payment id -> amount Alipay said was paid
    forged_amounts = 0
    lock = threading.Lock()

    def open_payment(client: httpx.Client, path: str, body: dict) -> None:
        response = client.post(path, json={**body, "provider": "alipay", "method": "qr"})
        if response.status_code != 202:
            if response.status_code >= 500:
                failures.append(f"{path}: {response.status_code} {response.text}")
            return
        payment = response.json()
        to_notify.put((payment["id"], trade_for(fake, payment)))

    def notify(body: bytes) -> None:
        answer = httpx.post(f"{url}/api/v1/providers/alipay/notify", content=body, headers=FORM, timeout=60)
        if answer.status_code != 200 or answer.text != "success":
            failures.append(f"notify: {answer.status_code} {answer.text}")

    def alipay_notifier(seed: int) -> None:
        nonlocal forged_amounts
        chance = random.Random(seed)
        while True:
            item = to_notify.get()
            if item is None:
                return
            payment_id, trade = item
            success = fake.notification(trade.out_trade_no)
            way = chance.random()
            if way < 0.25:  # the same notification twice at once
                twins = [threading.Thread(target=notify, args=(success,)) for _ in range(2)]
                for twin in twins:
                    twin.start()
                for twin in twins:
                    twin.join()
            elif way < 0.45:  # a close overtakes the success
                notify(fake.notification(trade.out_trade_no, status="TRADE_CLOSED"))
                notify(success)
            elif way < 0.6:  # a forged amount first (signed, so only the amount check stops it)
                notify(fake.notification(trade.out_trade_no, total_amount="0.01"))
                with lock:
                    forged_amounts += 1
                notify(success)
            else:
                notify(success)
            if chance.random() < 0.3:
                notify(success)  # replayed later
            with lock:
                notified_ok[payment_id] = int(trade.total_amount.replace(".", ""))

    done = threading.Event()

    def check_ledger() -> None:
        while not done.is_set():
            report = operator.get("/api/v1/admin/ledger/check").json()
            if not report["ok"]:
                failures.append(f"ledger: {report['violations'][:3]}")
            done.wait(0.3)

    def buyer_loop(account, seed: int) -> None:
        chance = random.Random(seed)
        with _http(url, account.token) as client:
            open_payment(client, "/api/v1/wallet/topups", {"amount": 20_000, "currency": "CNY"})
            for _ in range(OPS_PER_BUYER):
                roll = chance.random()
                if roll < 0.15:
                    amount = chance.randint(100, 5000)
                    open_payment(client, "/api/v1/wallet/topups", {"amount": amount, "currency": "CNY"})
                    continue
                items = [{"product_id": chance.choice(products), "quantity": chance.randint(1, 2)}]
                created = client.post("/api/v1/orders", json={"items": items})
                if created.status_code != 201:
                    failures.append(f"order: {created.status_code} {created.text}")
                    continue
                order_id = created.json()["id"]
                if roll < 0.55:
                    open_payment(client, f"/api/v1/orders/{order_id}/payments", {})
                    if chance.random() < 0.1:  # and pays from the wallet too: the later money stays there
                        client.post(f"/api/v1/orders/{order_id}/pay")
                else:
                    paid = client.post(f"/api/v1/orders/{order_id}/pay")
                    if paid.status_code >= 500:
                        failures.append(f"pay: {paid.status_code} {paid.text}")
                for shipped in client.get("/api/v1/orders?status=WAIT_BUYER_CONFIRM_GOODS").json()["items"]:
                    client.post(f"/api/v1/orders/{shipped['id']}/confirm")

    def merchant_loop(account, seed: int) -> None:
        chance = random.Random(seed)
        with _http(url, account.token) as client:
            while not buyers_done.is_set():
                for order in client.get("/api/v1/orders?status=WAIT_SELLER_SEND_GOODS&per_page=50").json()["items"]:
                    client.post(f"/api/v1/orders/{order['id']}/ship", json={"carrier": "SF", "tracking": "SF1"})
                withdrawable = client.get("/api/v1/wallet?currency=CNY").json()["withdrawable"]["amount"]
                if withdrawable >= 1000:
                    ask = {"amount": {"amount": chance.randint(1000, withdrawable), "currency": "CNY"}}
                    response = client.post("/api/v1/payouts", json=ask)
                    if response.status_code not in (201, 422):  # 422: the balance moved meanwhile
                        failures.append(f"payout: {response.status_code} {response.text}")
                buyers_done.wait(0.2)

    def operator_loop(seed: int) -> None:
        chance = random.Random(seed)
        while not buyers_done.is_set():
            for payout in operator.get("/api/v1/payouts?state=requested&per_page=50").json()["items"]:
                if chance.random() < 0.8:
                    operator.post(
                        f"/api/v1/admin/payouts/{payout['id']}/paid", json={"reference": f"BANK{payout['id']}"}
                    )
                else:
                    operator.post(f"/api/v1/admin/payouts/{payout['id']}/failed", json={"reason": "account closed"})
            buyers_done.wait(0.3)

    buyers_done = threading.Event()
    notifiers = [threading.Thread(target=alipay_notifier, args=(i,)) for i in range(3)]
    others = [
        threading.Thread(target=check_ledger),
        threading.Thread(target=operator_loop, args=(7,)),
        *[threading.Thread(target=merchant_loop, args=(m, i)) for i, m in enumerate(merchants)],
    ]
    shoppers = [threading.Thread(target=buyer_loop, args=(b, 100 + i)) for i, b in enumerate(buyers)]
    for thread in [*notifiers, *others, *shoppers]:
        thread.start()
    for thread in shoppers:
        thread.join(timeout=600)
    for _ in notifiers:
        to_notify.put(None)
    for thread in notifiers:
        thread.join(timeout=600)
    buyers_done.set()
    done.set()
    for thread in others:
        thread.join(timeout=60)
    assert failures == []

    # Every notified payment was credited exactly once, whatever came before or after its success.
    assert len(notified_ok) > BUYERS
    for payment_id in notified_ok:
        assert operator.get(f"/api/v1/payments/{payment_id}").json()["state"] == "succeeded"
    recon = operator.get("/api/v1/admin/reconciliation?provider=alipay").json()
    assert recon["ledger_ok"]
    assert {d["kind"] for d in recon["differences"]} <= {"amount_mismatch"}
    assert len(recon["differences"]) <= forged_amounts

    # Nothing made or lost: what Alipay brought in is in the buyers' wallets and escrow, the merchants' balances,
    # the commission, and the payouts (asked for or paid).
    brought_in = sum(notified_ok.values())
    buyers_hold = 0
    for buyer in buyers:
        with _http(url, buyer.token) as client:
            wallet = client.get("/api/v1/wallet?currency=CNY").json()
        buyers_hold += wallet["available"]["amount"] + wallet["held"]["amount"]
    merchants_hold = commission = 0
    for merchant in merchants:
        with _http(url, merchant.token) as client:
            merchants_hold += client.get("/api/v1/wallet?currency=CNY").json()["available"]["amount"]
            sold = _every(client, "/api/v1/orders")
            commission += sum(o["commission"]["amount"] for o in sold if o["merchant_id"] == merchant.user.id)
    payouts = _every(operator, "/api/v1/payouts")
    assert any(p["state"] == "paid" for p in payouts)
    paid_out = sum(p["amount"]["amount"] for p in payouts if p["state"] in ("requested", "paid"))
    assert buyers_hold + merchants_hold + commission + paid_out == brought_in
    report = operator.get("/api/v1/admin/ledger/check").json()
    assert report["ok"], report["violations"]
