"""Fixtures of the payments tests: a site funded through Stripe, whose SDK talks to a local Stripe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.payments.stripe_server import API_KEY, WEBHOOK_SECRET, StripeServer
from vetrina.context import Context
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.web.app import create_app


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
