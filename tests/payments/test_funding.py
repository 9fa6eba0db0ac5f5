"""No money from nowhere: wallets are funded only through a provider the operator configured, and a site on
sandbox money says so on every page."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.web.helpers import assert_problem, sign_in
from vetrina.accounts.models import Role
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.web.app import create_app

EUR_50 = {"amount": 5000, "currency": "EUR"}


@pytest.fixture
def unfunded(settings):
    """The app of a site whose operator configured no funding provider (over the same database as `ctx`)."""
    bare = build_context(settings.model_copy(update={"funding_providers": []}))
    with TestClient(create_app(bare)) as client:
        yield client
    bare.close()


def test_with_no_provider_a_top_up_is_a_409_that_says_what_to_set_and_credits_nothing(unfunded, make_account):
    buyer = make_account(Role.viewer)
    problem = assert_problem(
        unfunded.post("/api/v1/wallet/topups", headers=buyer.auth, json=EUR_50), 409, "no-funding-provider"
    )
    assert "VETRINA_FUNDING_PROVIDERS" in problem["detail"]
    keyed = {**buyer.auth, "Idempotency-Key": "first"}
    assert unfunded.post("/api/v1/wallet/topups", headers=keyed, json=EUR_50).status_code == 409
    assert unfunded.get("/api/v1/wallet", headers=buyer.auth).json()["available"]["amount"] == 0


def test_with_no_provider_the_pages_offer_no_top_up_and_no_sandbox_banner(unfunded, make_account):
    buyer = make_account(Role.viewer)
    sign_in(unfunded, buyer.user.email)
    page = unfunded.get("/wallet").text
    token = unfunded.cookies.get("vetrina_csrf")  # the double-submit token, as a stale page would still send it
    assert 'action="/wallet/topups"' not in page and 'data-testid="no-funding"' in page
    assert 'data-testid="sandbox-banner"' not in page and 'data-testid="sandbox-banner"' not in unfunded.get("/").text
    refused = unfunded.post("/wallet/topups", data={"csrf_token": token, "amount": "50"})
    assert refused.status_code == 200 and "no funding provider" in refused.text
    assert unfunded.get("/api/v1/wallet", headers=buyer.auth).json()["available"]["amount"] == 0


def test_on_sandbox_money_every_page_says_so_and_top_ups_work(client, make_account):
    buyer = make_account(Role.viewer)
    sign_in(client, buyer.user.email)
    for path in ("/", "/wallet", "/login"):
        assert 'data-testid="sandbox-banner"' in client.get(path).text, path
    assert 'action="/wallet/topups"' in client.get("/wallet").text
    made = client.post("/api/v1/wallet/topups", headers=buyer.auth, json={**EUR_50, "provider": "sandbox"})
    assert made.status_code == 201 and made.json()["available"]["amount"] == 5000
    other = client.post("/api/v1/wallet/topups", headers=buyer.auth, json={**EUR_50, "provider": "alipay"})
    assert assert_problem(other, 422, "invalid-input")["field"] == "provider"
    assert client.get("/api/v1/wallet", headers=buyer.auth).json()["available"]["amount"] == 5000


def test_providers_are_named_in_the_setting_as_a_json_list(monkeypatch, tmp_path):
    monkeypatch.setenv("VETRINA_FUNDING_PROVIDERS", '["sandbox"]')
    assert Settings(data_dir=tmp_path).funding_providers == ["sandbox"]
    monkeypatch.delenv("VETRINA_FUNDING_PROVIDERS")
    assert Settings(data_dir=tmp_path).funding_providers == []
    with pytest.raises(ValidationError, match="unknown funding providers"):
        Settings(data_dir=tmp_path, funding_providers=["paypal"])


def test_a_real_provider_needs_its_keys_and_a_public_origin_and_never_sits_beside_the_sandbox(tmp_path):
    with pytest.raises(ValidationError, match="VETRINA_ALIPAY_APP_ID.*VETRINA_BASE_URL"):
        Settings(data_dir=tmp_path, funding_providers=["alipay"])
    keys = {"stripe_secret_key": "sk_test_x", "stripe_webhook_secret": "whsec_x"}
    with pytest.raises(ValidationError, match="VETRINA_BASE_URL"):
        Settings(data_dir=tmp_path, funding_providers=["stripe"], **keys)
    assert Settings(data_dir=tmp_path, funding_providers=["stripe"], base_url="https://shop.example", **keys)
    with pytest.raises(ValidationError, match="sandbox cannot be configured beside"):
        Settings(data_dir=tmp_path, funding_providers=["stripe", "sandbox"], base_url="https://shop.example", **keys)


def test_the_demo_refuses_to_run_without_sandbox_money(tmp_path):
    env = {**os.environ, "VETRINA_DATA_DIR": str(tmp_path / "data"), "VETRINA_FUNDING_PROVIDERS": "[]"}
    done = subprocess.run(
        [sys.executable, "-m", "vetrina", "demo"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2 and "VETRINA_FUNDING_PROVIDERS" in done.stderr
