"""Shop helpers for the commerce and payments tests (and any other that needs a shop): a merchant with products,
buyers with money, order steps, wallets and the ledger check."""

from __future__ import annotations

import secrets

from vetrina.accounts.models import Role


def product(client, merchant, price: int = 1999, stock: int = 10, currency: str = "EUR", **extra) -> dict:
    body = {"title": f"Linen shirt {secrets.token_hex(2)}", "price": {"amount": price, "currency": currency}}
    response = client.post("/api/v1/products", headers=merchant.auth, json={**body, "stock": stock, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def funded_buyer(client, make_account, amount: int = 10_000):
    buyer = make_account(Role.viewer)
    response = client.post("/api/v1/wallet/topups", headers=buyer.auth, json={"amount": amount, "currency": "EUR"})
    assert response.status_code == 201, response.text
    return buyer


def order(client, buyer, product_id: int, quantity: int = 1, **item) -> dict:
    response = client.post(
        "/api/v1/orders", headers=buyer.auth, json={"items": [{"product_id": product_id, "quantity": quantity, **item}]}
    )
    assert response.status_code == 201, response.text
    return response.json()


def step(client, account, order_id: int, action: str, body: dict | None = None, status: int = 200) -> dict:
    response = client.post(f"/api/v1/orders/{order_id}/{action}", headers=account.auth, json=body or {})
    assert response.status_code == status, response.text
    return response.json()


def wallet(client, account) -> tuple[int, int]:
    body = client.get("/api/v1/wallet", headers=account.auth).json()
    return body["available"]["amount"], body["held"]["amount"]


def ledger_ok(client, admin) -> dict:
    report = client.get("/api/v1/admin/ledger/check", headers=admin.auth).json()
    assert report["ok"], report["violations"]
    assert report["total_debits"] == report["total_credits"]
    return report
