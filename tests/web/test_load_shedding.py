"""Under overload a request waits at most VETRINA_QUEUE_TIMEOUT_MS for the database, then gets 503 with Retry-After;
a retry with the same Idempotency-Key then runs it once, and a further retry replays that answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from fastapi.testclient import TestClient

from tests.commerce.helpers import funded_buyer, product
from vetrina.accounts.models import Role
from vetrina.context import Context
from vetrina.runtime import build_context
from vetrina.web.app import create_app


@contextmanager
def database_saturated(ctx: Context) -> Iterator[None]:
    """Every connection of the pool taken (PostgreSQL), or the write turn held by another thread (SQLite)."""
    if ctx.db.is_sqlite:
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with ctx.db.session(write=True):
                holding.set()
                release.wait(30)

        writer = threading.Thread(target=hold)
        writer.start()
        holding.wait(10)
        try:
            yield
        finally:
            release.set()
            writer.join()
        return
    pool = ctx.db.engine.pool
    with ExitStack() as taken:
        for _ in range(pool.size() + pool._max_overflow):  # type: ignore[attr-defined]
            taken.enter_context(ctx.db.engine.connect())
        yield


def test_an_overloaded_order_is_shed_with_503_and_its_retry_runs_once(settings, make_account):
    shedding = build_context(settings.model_copy(update={"queue_timeout_ms": 200}))
    try:
        with TestClient(create_app(shedding, run_worker=False)) as client:
            merchant = make_account(Role.merchant)
            item = product(client, merchant, stock=5)
            buyer = funded_buyer(client, make_account)
            body = {"items": [{"product_id": item["id"], "quantity": 1}]}
            headers = {**buyer.auth, "Idempotency-Key": "flash-1"}
            with database_saturated(shedding):
                shed = client.post("/api/v1/orders", headers=headers, json=body)
            assert shed.status_code == 503, shed.text
            assert shed.headers["retry-after"] == "1"
            assert shed.headers["content-type"] == "application/problem+json"
            assert shed.json()["type"].endswith("/busy")
            assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 5  # nothing half-done

            retried = client.post("/api/v1/orders", headers=headers, json=body)
            assert retried.status_code == 201, retried.text
            assert "idempotent-replayed" not in retried.headers
            again = client.post("/api/v1/orders", headers=headers, json=body)
            assert again.status_code == 201 and again.json()["id"] == retried.json()["id"]
            assert again.headers["idempotent-replayed"] == "true"
            assert client.get(f"/api/v1/products/{item['id']}").json()["stock"] == 4
            assert client.get("/api/v1/orders", headers=buyer.auth).json()["total"] == 1
            assert client.get("/healthz").status_code == 200  # and the server kept serving
    finally:
        shedding.close()
