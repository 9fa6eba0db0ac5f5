"""GET /metrics: Prometheus' text format, readable by the operator only, with what the issue asks for."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.commerce.helpers import funded_buyer, product, step
from tests.helpers import free_port, wait_for
from vetrina.accounts.models import Role
from vetrina.media.transcode import TRANSCODE_JOB
from vetrina.web.app import create_app


@pytest.fixture
def local(ctx):
    """The app as seen from loopback (allowed to scrape by default)."""
    with TestClient(create_app(ctx, run_worker=True), client=("127.0.0.1", 50000)) as test_client:
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


def test_job_runs_are_counted_by_outcome(local, ctx):
    ctx.queue.enqueue(TRANSCODE_JOB, 424242)  # no such video: the job finds nothing to claim, and ends

    def counted() -> float:
        return value(scrape(local).get("vetrina_jobs", []), job=TRANSCODE_JOB, outcome="ok")

    assert wait_for(counted, timeout_s=30, message="the job to be counted") == 1


def test_only_the_operator_may_scrape(ctx, make_account):
    with TestClient(create_app(ctx, run_worker=False)) as remote:  # "testclient": not an allowed address
        assert remote.get("/metrics").status_code == 403
        assert remote.get("/metrics", headers=make_account(Role.merchant).auth).status_code == 403
        assert remote.get("/metrics", headers=make_account(Role.admin).auth).status_code == 200


@pytest.mark.slow
def test_several_server_processes_answer_for_all_of_them(tmp_path):
    """`vetrina serve --workers 2`: whichever process answers a scrape counts every process's requests
    (Prometheus' multiprocess mode, in a folder of the data directory emptied at each start)."""
    port = free_port()
    env = {**os.environ, "VETRINA_DATA_DIR": str(tmp_path / "data"), "VETRINA_SECRET_KEY": "test-secret"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    stale = tmp_path / "data" / "metrics" / "counter_1.db"  # from an earlier run: dropped at start
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    server = subprocess.Popen(
        [sys.executable, "-m", "vetrina", "serve", "--port", str(port), "--workers", "2", "--no-live"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            wait_for(lambda: _answers(http), timeout_s=60, message="the server to start")
            assert not stale.exists()
            before, sent = _healthz_count(http), 0
            # Until both processes have answered some (each keeps its own files, named by its pid). A connection
            # each: kept-alive ones would all stay with the process that accepted them (the first one up).
            deadline = time.monotonic() + 90
            with ThreadPoolExecutor(8) as pool:
                while len(list(stale.parent.glob("histogram_*.db"))) < 2 and time.monotonic() < deadline:
                    answers = pool.map(lambda _: http.get("/healthz", headers={"Connection": "close"}), range(50))
                    assert {answer.status_code for answer in answers} == {200}
                    sent += 50
            assert len(list(stale.parent.glob("histogram_*.db"))) == 2
            # A request is timed once its answer is sent: the last few may be counted a moment after.
            wait_for(lambda: _healthz_count(http) == before + sent, timeout_s=10, message="every request counted")
            for _ in range(6):  # scrapes answered by either process
                assert _healthz_count(http) == before + sent
                families = {f.name: f.samples for f in text_string_to_metric_families(http.get("/metrics").text)}
                assert "vetrina_job_queue_depth" in families and "vetrina_escrow_held" in families
    finally:
        server.terminate()
        server.wait(timeout=30)


def _healthz_count(http: httpx.Client) -> float:
    families = {f.name: f.samples for f in text_string_to_metric_families(http.get("/metrics").text)}
    counts = [s for s in families["vetrina_http_request_duration_seconds"] if s.name.endswith("_count")]
    return value(counts, route="/healthz", method="GET", status="200")


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
