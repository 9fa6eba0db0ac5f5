"""Idempotency-Key on money- and stock-moving POSTs (IETF httpapi draft rules)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.commerce.helpers import funded_buyer, order, product, wallet
from vetrina import clock
from vetrina.accounts.models import Role
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


def test_a_key_still_in_flight_is_409_and_a_stale_one_is_taken_over(client, make_account, ctx):
    buyer = make_account(Role.viewer)
    from vetrina.payments import idempotency

    body = {"amount": 700, "currency": "EUR"}
    fingerprint = idempotency.fingerprint("POST", "/api/v1/wallet/topups", b'{"amount":700,"currency":"EUR"}')
    assert idempotency.claim(ctx.db, buyer.user.id, "busy", fingerprint).claimed_at  # a request now running
    headers = {**buyer.auth, "Idempotency-Key": "busy"}
    in_flight = client.post("/api/v1/wallet/topups", headers=headers, json=body)
    assert in_flight.status_code == 409
    assert in_flight.json()["type"].endswith("idempotency-key-in-flight")
    assert wallet(client, buyer) == (0, 0)

    later = clock.now() + idempotency.STALE_AFTER + timedelta(seconds=1)
    clock.set_clock(lambda: later)
    taken_over = client.post("/api/v1/wallet/topups", headers=headers, json=body)
    clock.set_clock(None)
    assert taken_over.status_code == 201
    assert wallet(client, buyer) == (700, 0)
    with ctx.db.session() as session:
        rows = session.scalars(select(IdempotencyKey).where(IdempotencyKey.user_id == buyer.user.id)).all()
        assert [(r.key, r.done, r.response_status) for r in rows] == [("busy", True, 201)]


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


def test_a_stale_claim_is_taken_over_once(ctx, make_account):
    from vetrina.payments import idempotency

    buyer = make_account(Role.viewer)
    first = idempotency.claim(ctx.db, buyer.user.id, "k", "f")
    later = clock.now() + idempotency.STALE_AFTER + timedelta(seconds=1)
    clock.set_clock(lambda: later)
    retry = idempotency.claim(ctx.db, buyer.user.id, "k", "f")
    assert retry.claimed_at == later
    with pytest.raises(idempotency.RequestInFlight):
        idempotency.claim(ctx.db, buyer.user.id, "k", "f")  # a second retry: the first one holds it now
    # The slow original finishing late must not count as well.
    with pytest.raises(idempotency.RequestInFlight), ctx.db.session(write=True) as session:
        idempotency.complete(session, buyer.user.id, "k", first.claimed_at, 200, {"late": True})
    with ctx.db.session(write=True) as session:
        idempotency.complete(session, buyer.user.id, "k", retry.claimed_at, 200, {"ok": True})
    clock.set_clock(None)
    assert idempotency.claim(ctx.db, buyer.user.id, "k", "f").replay == (200, {"ok": True})
