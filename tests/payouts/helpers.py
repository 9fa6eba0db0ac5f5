"""Payout test helpers: released sales for a merchant, its top-ups and ad spend, its balance, asking for payouts."""

from __future__ import annotations

from tests.ads.helpers import campaign_row
from tests.commerce.helpers import funded_buyer, order, product, step
from vetrina import clock
from vetrina.money import MILLIS_PER_MINOR


def sell(client, make_account, merchant, price: int = 10_000) -> int:
    """One product sold, shipped and confirmed: the merchant's released sales grow by what this returns."""
    item = product(client, merchant, price=price, stock=1)
    buyer = funded_buyer(client, make_account, price)
    placed = order(client, buyer, item["id"])
    step(client, buyer, placed["id"], "pay")
    step(client, merchant, placed["id"], "ship", {"carrier": "DHL", "tracking": "JD0146"})
    finished = step(client, buyer, placed["id"], "confirm")
    return price - finished["commission"]["amount"]


def top_up(client, account, amount: int, currency: str = "EUR") -> dict:
    response = client.post("/api/v1/wallet/topups", headers=account.auth, json={"amount": amount, "currency": currency})
    assert response.status_code == 201, response.text
    return response.json()


def balance(client, account, currency: str = "EUR") -> dict[str, int]:
    """The merchant's wallet as GET /api/v1/wallet shows it: available, held and withdrawable, in minor units."""
    response = client.get("/api/v1/wallet", params={"currency": currency}, headers=account.auth)
    assert response.status_code == 200, response.text
    return {name: money["amount"] for name, money in response.json().items()}


def ask(client, account, amount: int, currency: str = "EUR", key: str | None = None):
    headers = {**account.auth, **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/v1/payouts", headers=headers, json={"amount": {"amount": amount, "currency": currency}})


def payouts_of(client, account, **params) -> dict:
    response = client.get("/api/v1/payouts", params=params, headers=account.auth)
    assert response.status_code == 200, response.text
    return response.json()


def campaign_with_spend(ctx, merchant, spent: int, currency: str = "EUR") -> int:
    """An active campaign that has spent `spent` minor units (and a fraction more) not yet billed, written straight
    into the database as the ad tests do."""
    # The fraction waits for more spend.
    spent_millis = spent * MILLIS_PER_MINOR + 400
    with ctx.db.session(write=True) as session:
        campaign = campaign_row(
            merchant.user.id, clock.now(), spent_millis=spent_millis, currency=currency, name="Spring spot"
        )
        session.add(campaign)
        session.flush()
        return campaign.id
