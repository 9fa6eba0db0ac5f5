"""GET /metrics: Prometheus' text format, readable by the operator only, with what the issue asks for."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.commerce.helpers import funded_buyer, product, step
from vetrina.accounts.models import Role
from vetrina.web.app import create_app


@pytest.fixture
def local(runtime):
    """The app as seen from loopback (allowed to scrape by default)."""
    with TestClient(create_app(runtime, run_worker=True), client=("127.0.0.1", 50000)) as test_client:
        yield test_client


def scrape(client, headers: dict | None = None) -> dict[str, list]:
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(samples: list, **labels: str) -> float:
    return sum(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_count_requests_by_route_and_show_escrow_and_commission(local, make_account):
    merchant, buyer = make_account(Role.merchant), funded_buyer(local, make_account)
    shirt = product(local, merchant, price=5000)
    for video_id in (1, 2, 3):  # three ids, one route
        assert local.get(f"/api/v1/videos/{video_id}").status_code == 404
    held = local.post(
        "/api/v1/orders", headers=buyer.auth, json={"items": [{"product_id": shirt["id"], "quantity": 1}]}
    )
    step(local, buyer, held.json()["id"], "pay")
    done = local.post(
        "/api/v1/orders", headers=buyer.auth, json={"items": [{"product_id": shirt["id"], "quantity": 1}]}
    )
    step(local, buyer, done.json()["id"], "pay")
    step(local, merchant, done.json()["id"], "ship", {"carrier": "DHL", "tracking": "1"})
    step(local, buyer, done.json()["id"], "confirm")

    metrics = scrape(local)
    latency = metrics["vetrina_http_request_duration_seconds"]
    counts = [s for s in latency if s.name.endswith("_count")]
    assert value(counts, route="/api/v1/videos/{video_id}", status="404", method="GET") == 3
    assert not [s for s in latency if s.labels.get("route") == "/api/v1/videos/1"]  # ids never become series
    assert value(metrics["vetrina_escrow_held"], currency="EUR") == 5000  # the first order, paid, not released
    assert value(metrics["vetrina_commission"], currency="EUR") == 5000 * 500 // 10_000
    assert "vetrina_job_queue_depth" in metrics and "vetrina_transcode_seconds" in metrics


def test_only_the_operator_may_scrape(runtime, make_account):
    with TestClient(create_app(runtime, run_worker=False)) as remote:  # "testclient": not an allowed address
        assert remote.get("/metrics").status_code == 403
        assert remote.get("/metrics", headers=make_account(Role.merchant).auth).status_code == 403
        assert remote.get("/metrics", headers=make_account(Role.admin).auth).status_code == 200
