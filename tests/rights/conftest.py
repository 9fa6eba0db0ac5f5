"""Rights fixtures (tests/rights and its revenue-share tests): the app seen from loopback at a fixed "now", and a
partner studio that owns the titles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.rights.helpers import NOW
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.web.app import create_app


@pytest.fixture
def http(ctx):
    """The app seen from loopback, whose CF-IPCountry header is believed (the default trusted proxies)."""
    clock.set_clock(lambda: NOW)
    with TestClient(create_app(ctx, run_worker=False), client=("127.0.0.1", 50000)) as test_client:
        yield test_client


@pytest.fixture
def studio(make_account):
    return make_account(Role.partner)
