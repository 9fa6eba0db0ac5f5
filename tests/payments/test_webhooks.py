"""Webhooks: order events reach the merchant's endpoint after commit, signed per Standard Webhooks, retried."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from tests.commerce.helpers import funded_buyer, order, product, step
from tests.helpers import wait_for
from vetrina.accounts.models import Role


class Receiver:
    """A real HTTP server on loopback that records deliveries and answers with the status it is told to."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def settings(settings):
    # The receiver lives on loopback, which production refuses; retries are shortened for the test.
    return settings.model_copy(update={"webhook_allow_private": True, "webhook_backoff_scale": 0.02})


def register(client, merchant, url) -> dict:
    response = client.post("/api/v1/webhooks", headers=merchant.auth, json={"url": url})
    assert response.status_code == 201, response.text
    return response.json()


def test_order_events_arrive_signed_and_deduplicable(client, make_account, receiver):
    merchant = make_account(Role.merchant)
    endpoint = register(client, merchant, receiver.url)
    assert endpoint["secret"].startswith("whsec_")
    item = product(client, merchant)
    buyer = funded_buyer(client, make_account)
    placed = order(client, buyer, item["id"])
    step(client, buyer, placed["id"], "pay")
    wait_for(lambda: len(receiver.received) >= 2, timeout_s=20, message="two webhook deliveries")
    assert sorted(receiver.events()) == ["order.created", "order.paid"]

    verifier = Webhook(endpoint["secret"])
    for headers, body in receiver.received:
        payload = verifier.verify(body, headers)  # the reference library accepts our signature
        assert payload["data"]["order_id"] == placed["id"]
        assert headers["webhook-id"].startswith("msg_")
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 2
    with pytest.raises(Exception):  # noqa: B017 (any verification failure will do)
        Webhook("whsec_" + "A" * 43 + "=").verify(receiver.received[0][1], receiver.received[0][0])

    def log():
        return client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=merchant.auth).json()

    wait_for(lambda: all(d["status"] == "delivered" for d in log()), timeout_s=10, message="both delivered")
    assert {d["event_type"] for d in log()} == {"order.created", "order.paid"}


def test_failed_deliveries_are_retried_with_backoff(client, make_account, receiver):
    merchant = make_account(Role.merchant)
    endpoint = register(client, merchant, receiver.url)
    receiver.answers = [500, 503]
    item = product(client, merchant)
    buyer = funded_buyer(client, make_account)
    order(client, buyer, item["id"])
    wait_for(lambda: len(receiver.received) >= 3, timeout_s=30, message="two failures and a success")
    ids = {h["webhook-id"] for h, _ in receiver.received}
    assert len(ids) == 1  # the same message each time, so the receiver can drop repeats

    def latest():
        return client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=merchant.auth).json()[0]

    wait_for(lambda: latest()["status"] == "delivered", timeout_s=10, message="delivered")
    assert latest()["attempts"] == 3 and latest()["last_status_code"] == 204


def test_nothing_is_sent_for_a_rolled_back_change(client, make_account, receiver):
    merchant = make_account(Role.merchant)
    register(client, merchant, receiver.url)
    item = product(client, merchant, stock=1)
    buyer = funded_buyer(client, make_account)
    too_many = client.post(
        "/api/v1/orders", headers=buyer.auth, json={"items": [{"product_id": item["id"], "quantity": 2}]}
    )
    assert too_many.status_code == 409
    order(client, buyer, item["id"])
    wait_for(lambda: receiver.received, timeout_s=20, message="a delivery")
    assert receiver.events() == ["order.created"]


def test_secret_changes_are_checked_and_replays_change_nothing(client, make_account, receiver):
    merchant, rival = make_account(Role.merchant), make_account(Role.merchant)
    endpoint = register(client, merchant, receiver.url)
    url = f"/api/v1/webhooks/{endpoint['id']}/secret"
    for bad in ["nope", "whsec_not-base64!!", "whsec_" + "QUJD"]:
        assert client.post(url, headers=merchant.auth, json={"secret": bad}).status_code == 422
    assert client.post(url, headers=rival.auth, json={}).status_code == 404
    headers = {**merchant.auth, "Idempotency-Key": "rotate-1"}
    first = client.post(url, headers=headers, json={})
    assert first.status_code == 200 and first.json()["secret"] != endpoint["secret"]
    replay = client.post(url, headers=headers, json={})
    assert replay.json()["secret"] == first.json()["secret"]
    listed = client.get("/api/v1/webhooks", headers=merchant.auth).json()
    assert [e["secret"] for e in listed] == [first.json()["secret"]]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
        "http://169.254.169.254/latest",
    ],
)
def test_private_and_odd_addresses_are_refused_by_default(settings, make_account, url):
    from fastapi.testclient import TestClient

    from vetrina.runtime import build_context
    from vetrina.web.app import create_app

    merchant = make_account(Role.merchant)
    production = build_context(settings.model_copy(update={"webhook_allow_private": False}))
    try:
        with TestClient(create_app(production)) as plain_client:
            response = plain_client.post("/api/v1/webhooks", headers=merchant.auth, json={"url": url})
            assert response.status_code == 422, response.text
            assert plain_client.get("/api/v1/webhooks", headers=merchant.auth).json() == []
    finally:
        production.close()
