"""Fixtures of the payments tests: sites whose funding provider is a local stand-in speaking the provider's API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.payments.alipay_helpers import FakeAlipay
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
    """A site taking Alipay (and the sandbox, for funded buyers), over the same database as `ctx`."""
    fake = FakeAlipay()
    update = fake.settings()
    update["funding_providers"] = ["alipay", "sandbox"]
    site = build_context(settings.model_copy(update=update))
    try:
        with TestClient(create_app(site)) as client:
            yield AlipaySite(fake, site, client)
    finally:
        site.close()
        fake.close()
