"""Helpers for the analytics tests: a sale made from a video, as a viewer would make it."""

from __future__ import annotations

from tests.commerce.helpers import product, step
from tests.shoppable.helpers import tag


def sell(client, merchant, buyer, film: int, price: int, finish: bool) -> None:
    item = product(client, merchant, price=price)
    assert tag(client, merchant, film, item["id"], 1, 10).status_code == 201
    events = [
        {"id": f"s{item['id']}-{k}", "type": k, "video_id": film, "second": 4, "product_id": item["id"]}
        for k in ("card_shown", "card_clicked", "buy_started")
    ]
    assert client.post("/api/v1/events", json={"viewer": "viewer-dash", "events": events}).json()["accepted"] == 3
    body = {"items": [{"product_id": item["id"], "quantity": 2}], "source": {"video_id": film, "second": 4}}
    order = client.post("/api/v1/orders", headers=buyer.auth, json=body).json()
    step(client, buyer, order["id"], "pay")
    if finish:
        step(client, merchant, order["id"], "ship", {"carrier": "DHL", "tracking": "1"})
        step(client, buyer, order["id"], "confirm")
