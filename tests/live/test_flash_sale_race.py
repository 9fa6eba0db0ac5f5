"""A thousand buyers race over real HTTP for a live show's flash sale of a hundred units: exactly a hundred are
paid, at the sale's price, nobody takes more than the limit (some ask for two, some ask twice at once), the rest of
the shop's stock is untouched and the ledger adds up."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.commerce.helpers import ledger_ok, product
from tests.live.helpers import live_show, sale_body
from vetrina.accounts.models import Role, User
from vetrina.money import Money
from vetrina.payments import credits

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """The race on the embedded default, its single writer the harder case (the API tests cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'vetrina.db'}"


BUYERS, UNITS = 1000, 100


async def _buy(http: httpx.AsyncClient, token: str, sale_id: int, product_id: int, quantity: int) -> int | None:
    """Order in the sale and pay; a shed 503 is retried with the same key. The paid order's id, or None."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"items": [{"product_id": product_id, "quantity": quantity}], "flash_sale_id": sale_id}

    async def post(path: str, json: dict | None, key: str) -> httpx.Response:
        """Until answered: a shed 503 or a connection the loaded server reset is retried with the same key, which
        can never buy twice."""
        for _ in range(100):
            try:
                answer = await http.post(path, json=json or {}, headers={**headers, "Idempotency-Key": key})
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            if answer.status_code != 503:
                return answer
            await asyncio.sleep(0.2)
        raise AssertionError(f"{path} unanswered 100 times")

    placed = await post("/api/v1/orders", body, uuid.uuid4().hex)
    if placed.status_code != 201:
        assert placed.status_code == 409 and placed.json()["type"].endswith("flash-sale-refused"), placed.text
        return None
    paid = await post(f"/api/v1/orders/{placed.json()['id']}/pay", None, uuid.uuid4().hex)
    assert paid.status_code == 200, paid.text
    return placed.json()["id"]


def test_a_thousand_buyers_race_for_a_hundred_units_over_http(live_server, make_account):
    ctx = live_server.ctx
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    buyers = [make_account(Role.viewer) for _ in range(BUYERS)]
    with ctx.db.session(write=True) as session:
        for buyer in buyers:
            user = session.get(User, buyer.user.id)
            credits.credit(session, user, Money(5_000, "EUR"), f"flash-{buyer.user.id}", by="test")
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        tea = product(http, merchant, price=900, stock=UNITS + 20)["id"]
        show = live_show(http, ctx, merchant, [tea])
        body = sale_body(tea, quantity=UNITS, seconds=300, per_buyer=1)
        sale = http.post(f"/api/v1/live/{show['id']}/flash-sales", headers=merchant.auth, json=body).json()

    async def race() -> list[int | None]:
        limits = httpx.Limits(max_connections=BUYERS)
        async with httpx.AsyncClient(base_url=live_server.url, timeout=120, limits=limits) as http:
            # Every tenth buyer asks twice at once and one in fifty asks for two units: the limit must hold.
            tasks = [_buy(http, b.token, sale["sale_id"], tea, 2 if i % 50 == 0 else 1) for i, b in enumerate(buyers)]
            tasks += [_buy(http, b.token, sale["sale_id"], tea, 1) for b in buyers[5::10]]
            return await asyncio.gather(*tasks)

    paid = [order_id for order_id in asyncio.run(race()) if order_id is not None]
    assert len(paid) == UNITS == len(set(paid))
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        sold = http.get("/api/v1/orders?status=WAIT_SELLER_SEND_GOODS&per_page=100", headers=merchant.auth).json()
        assert sold["total"] == UNITS
        per_buyer: dict[int, int] = {}
        for page in range(1, 3):
            listed = http.get(
                f"/api/v1/orders?status=WAIT_SELLER_SEND_GOODS&per_page=100&page={page}", headers=merchant.auth
            ).json()
            for order in listed["items"]:
                per_buyer[order["buyer_id"]] = per_buyer.get(order["buyer_id"], 0) + sum(
                    item["quantity"] for item in order["items"]
                )
                assert order["total"]["amount"] == 500
        assert sum(per_buyer.values()) == UNITS and max(per_buyer.values()) == 1  # nobody over the limit
        assert http.get(f"/api/v1/flash-sales/{sale['sale_id']}").json()["remaining"] == 0
        assert http.get(f"/api/v1/products/{tea}").json()["stock"] == 20  # the rest of the shop's stock, untouched
        ledger_ok(http, admin)
