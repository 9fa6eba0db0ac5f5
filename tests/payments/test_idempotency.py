"""Idempotency-Key on money- and stock-moving POSTs (IETF httpapi draft rules)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from tests.commerce.helpers import funded_buyer, order, product, wallet
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.payments import idempotency, ledger
from vetrina.payments.models import IdempotencyKey


def test_a_retried_payment_returns_the_first_answer_and_moves_money_once(client, make_account):
    merchant = make_account(Role.merchant)
    item = product(client, merchant, price=3000)
    buyer = funded_buyer(client, make_account, 10_000)
    placed = order(client, buyer, item["id"])
    headers = {**buyer.auth, "Idempotency-Key": "pay-1"}
    first = client.post(f"/api/v1/orders/{placed['id']}/pay", headers=headers, json={})
    second = client.post(f"/api/v1/orders/{placed['id']}/pay", headers=headers, json={})
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert wallet(client, buyer) == (7000, 3000)


def test_a_retried_order_reserves_stock_once(client, make_account):
    merchant = make_account(Role.merchant)
    item = product(client, merchant, stock=5)
    buyer = funded_buyer(client, make_account)
    body = {"items": [{"product_id": item["id"], "quantity": 2}]}
    headers = {**buyer.auth, "Idempotency-Key": "order-abc"}
    first = client.post("/api/v1/orders", headers=headers, json=body)
    second = client.post("/api/v1/orders", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 3
    assert client.get("/api/v1/orders", headers=buyer.auth).json()["total"] == 1

    different = client.post(
        "/api/v1/orders", headers=headers, json={"items": [{"product_id": item["id"], "quantity": 1}]}
    )
    assert different.status_code == 422
    assert different.json()["type"].endswith("idempotency-key-reused")
    assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 3


def test_keys_are_scoped_per_user(client, make_account):
    first, second = make_account(Role.viewer), make_account(Role.viewer)
    for account in (first, second):
        response = client.post(
            "/api/v1/wallet/topups",
            headers={**account.auth, "Idempotency-Key": "same-key"},
            json={"amount": 500, "currency": "EUR"},
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert wallet(client, first) == (500, 0) and wallet(client, second) == (500, 0)


def test_a_failed_first_attempt_is_replayed_too(client, make_account):
    merchant = make_account(Role.merchant)
    item = product(client, merchant, price=5000)
    buyer = funded_buyer(client, make_account, 1000)
    placed = order(client, buyer, item["id"])
    headers = {**buyer.auth, "Idempotency-Key": "poor"}
    first = client.post(f"/api/v1/orders/{placed['id']}/pay", headers=headers, json={})
    assert first.status_code == 409
    client.post("/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 9000, "currency": "EUR"})
    replay = client.post(f"/api/v1/orders/{placed['id']}/pay", headers=headers, json={})
    assert replay.status_code == 409 and replay.json() == first.json()
    assert replay.headers["content-type"] == "application/problem+json"
    fresh = client.post(
        f"/api/v1/orders/{placed['id']}/pay", headers={**buyer.auth, "Idempotency-Key": "rich"}, json={}
    )
    assert fresh.status_code == 200


def test_concurrent_requests_with_one_key_pay_once_and_all_get_the_first_answer(live_server, make_account):
    merchant = make_account(Role.merchant)
    with httpx.Client(base_url=live_server.url) as http:
        item = product(http, merchant, price=3000)
        buyer = funded_buyer(http, make_account, 10_000)
        placed = order(http, buyer, item["id"])
    headers = {**buyer.auth, "Idempotency-Key": "tapped-eight-times"}

    def pay(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            return http.post(f"/api/v1/orders/{placed['id']}/pay", headers=headers, json={})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(pay, range(8)))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
    with httpx.Client(base_url=live_server.url) as http:
        assert wallet(http, buyer) == (7000, 3000)
        history = http.get(f"/api/v1/orders/{placed['id']}", headers=buyer.auth).json()["history"]
    assert [e["action"] for e in history] == ["created", "paid"]
    with live_server.ctx.db.session() as session:
        assert len(ledger.transfers_for(session, f"order:{placed['id']}")) == 1


def test_a_key_is_stored_only_with_its_answer(client, make_account, ctx):
    """No claim is written ahead of the work: a request that dies leaves nothing for its retry to wait out."""
    buyer = make_account(Role.viewer)
    headers = {**buyer.auth, "Idempotency-Key": "topped"}
    first = client.post("/api/v1/wallet/topups", headers=headers, json={"amount": 700, "currency": "EUR"})
    assert first.status_code == 201
    with ctx.db.session() as session:
        rows = session.scalars(select(IdempotencyKey).where(IdempotencyKey.user_id == buyer.user.id)).all()
        assert [(r.key, r.done, r.response_status, r.response_body) for r in rows] == [
            ("topped", True, 201, first.json())
        ]


def test_malformed_keys_are_refused(client, make_account):
    buyer = make_account(Role.viewer)
    for key in [b"", b"x" * 256, b"has space", "ünïcode".encode()]:
        response = client.post(
            "/api/v1/wallet/topups",
            headers={**buyer.auth, "Idempotency-Key": key},
            json={"amount": 100, "currency": "EUR"},
        )
        assert response.status_code == 422, key
    assert wallet(client, buyer) == (0, 0)


def test_keys_expire_and_a_retry_after_that_cannot_pay_twice(client, ctx, make_account):
    """Keys older than VETRINA_IDEMPOTENCY_KEY_HOURS are deleted by the hourly sweep (newer ones stay); a pay
    retried with an expired key runs afresh and is refused by the order's own state, so no second transfer."""
    merchant = make_account(Role.merchant)
    item = product(client, merchant, price=100, stock=5)
    buyer = funded_buyer(client, make_account)
    placed = order(client, buyer, item["id"])
    old = {**buyer.auth, "Idempotency-Key": "paid-long-ago"}
    assert client.post(f"/api/v1/orders/{placed['id']}/pay", headers=old).status_code == 200
    fresh = {**buyer.auth, "Idempotency-Key": "ordered-just-now"}
    body = {"items": [{"product_id": item["id"], "quantity": 1}]}
    assert client.post("/api/v1/orders", headers=fresh, json=body).status_code == 201
    with ctx.db.session(write=True) as session:
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "paid-long-ago")
            .values(created_at=clock.now() - timedelta(hours=ctx.settings.idempotency_key_hours, minutes=1))
        )

    assert idempotency.expire(ctx) == 1
    with ctx.db.session() as session:
        assert set(session.scalars(select(IdempotencyKey.key))) >= {"ordered-just-now"}
        assert session.scalar(select(IdempotencyKey.id).where(IdempotencyKey.key == "paid-long-ago")) is None
    replayed = client.post("/api/v1/orders", headers=fresh, json=body)
    assert replayed.headers["idempotent-replayed"] == "true"
    again = client.post(f"/api/v1/orders/{placed['id']}/pay", headers=old)
    assert again.status_code == 409 and again.json()["current_status"] == "WAIT_SELLER_SEND_GOODS"
    assert "idempotent-replayed" not in again.headers
