"""Kill the server (SIGKILL) in the middle of a run of payments: after a restart the ledger holds, and every
payment a client saw succeed is there; retrying the others with their keys never pays twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid

import httpx
import pytest

from tests.helpers import free_port, wait_for
from vetrina.accounts.models import Role

pytestmark = pytest.mark.slow
CLIENTS = 8


def _serve(settings, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "VETRINA_DATA_DIR": str(settings.data_dir),
        "VETRINA_DATABASE_URL": settings.database_url,
        "VETRINA_SECRET_KEY": settings.secret_key,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "vetrina", "serve", "--port", str(port), "--no-live"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout_s=30, message="the server to start")
    return process


def test_payments_survive_a_killed_server(settings, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    buyers = [make_account(Role.viewer) for _ in range(CLIENTS)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(settings, port)
    try:
        seller = httpx.Client(base_url=url, headers=merchant.auth, timeout=10)
        product = seller.post(
            "/api/v1/products", json={"title": "Tea", "price": {"amount": 300, "currency": "EUR"}, "stock": 100_000}
        ).json()
        for buyer in buyers:
            httpx.post(f"{url}/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 1_000_000, "currency": "EUR"})

        seen_paid: list[tuple[int, int]] = []  # (buyer index, order id) the client saw succeed
        unsure: list[tuple[int, int, str]] = []  # payments whose answer was lost to the crash
        stop = threading.Event()

        def shop(index: int) -> None:
            http = httpx.Client(base_url=url, headers=buyers[index].auth, timeout=10)
            while not stop.is_set():
                try:
                    order = http.post("/api/v1/orders", json={"items": [{"product_id": product["id"], "quantity": 1}]})
                except httpx.HTTPError:
                    return
                if order.status_code != 201:
                    return
                key = uuid.uuid4().hex
                try:
                    paid = http.post(f"/api/v1/orders/{order.json()['id']}/pay", headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    unsure.append((index, order.json()["id"], key))
                    return
                if paid.status_code == 200:
                    seen_paid.append((index, order.json()["id"]))

        threads = [threading.Thread(target=shop, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(seen_paid) >= 40, timeout_s=60, message="payments under way")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)

    server = _serve(settings, port)
    try:
        for index, order_id in seen_paid:
            order = httpx.get(f"{url}/api/v1/orders/{order_id}", headers=buyers[index].auth).json()
            assert order["status"] == "WAIT_SELLER_SEND_GOODS", order
        for index, order_id, key in unsure:
            retried = httpx.post(
                f"{url}/api/v1/orders/{order_id}/pay", headers={**buyers[index].auth, "Idempotency-Key": key}
            )
            # Either the crash came first (409: the claim is still fresh; 200 once it is taken over) or
            # the payment committed and this is its stored answer: never a second payment.
            assert retried.status_code in (200, 409), retried.text
        report = httpx.get(f"{url}/api/v1/admin/ledger/check", headers=admin.auth).json()
        assert report["ok"], report["violations"]
        for buyer in buyers:
            orders = httpx.get(f"{url}/api/v1/orders?per_page=100&status=WAIT_SELLER_SEND_GOODS", headers=buyer.auth)
            paid_total = sum(o["total"]["amount"] for o in orders.json()["items"])
            wallet = httpx.get(f"{url}/api/v1/wallet", headers=buyer.auth).json()
            assert wallet["held"]["amount"] == paid_total
            assert wallet["available"]["amount"] == 1_000_000 - paid_total
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
