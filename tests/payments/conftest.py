"""Fixtures of the payments tests: sites whose funding provider is a local stand-in speaking the provider's API
(Alipay's gateway, Stripe's API); the SDKs are the real ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.payments.alipay_helpers import FakeAlipay
from tests.payments.stripe_server import API_KEY, WEBHOOK_SECRET, StripeServer
from vetrina.context import Context
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.web.app import create_app


@dataclass
class AlipaySite:
    fake: FakeAlipay
    ctx: Context
    client: TestClient


@pytest.fixture
def alipay(settings: Settings) -> Iterator[AlipaySite]:
    """A site taking Alipay, over the same database as `ctx`."""
    fake = FakeAlipay()
    site = build_context(settings.model_copy(update=fake.settings()))
    try:
        with TestClient(create_app(site)) as client:
            yield AlipaySite(fake, site, client)
    finally:
        site.close()
        fake.close()


@pytest.fixture
def stripe_server() -> Iterator[StripeServer]:
    server = StripeServer()
    yield server
    server.close()


@pytest.fixture
def stripe_settings(settings: Settings, stripe_server: StripeServer) -> Settings:
    """The settings of a site that takes money through Stripe only (over the same database as `ctx`)."""
    return settings.model_copy(
        update={
            "funding_providers": ["stripe"],
            "stripe_secret_key": API_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": stripe_server.url,
            "base_url": "http://testserver",
        }
    )


@pytest.fixture
def stripe_ctx(stripe_settings: Settings) -> Iterator[Context]:
    ctx = build_context(stripe_settings)
    yield ctx
    ctx.close()


@pytest.fixture
def stripe_client(stripe_ctx: Context) -> Iterator[TestClient]:
    """That site's app in-process (no job workers: the tests run reconciliation themselves)."""
    with TestClient(create_app(stripe_ctx)) as client:
        yield client
