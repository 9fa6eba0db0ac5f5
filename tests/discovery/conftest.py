"""Discovery fixtures: a real server and an HTTP client of it."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def site(live_server):
    """An httpx client of the real server (loopback, so a CF-IPCountry header is believed)."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client
