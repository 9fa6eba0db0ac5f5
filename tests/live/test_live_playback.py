"""A live show in Chromium: ffmpeg publishes a 480p picture with the wall clock burned in, through nginx-rtmp and
the live encoder, and the show's page plays it; the clock read off the frames on screen says how far behind the
camera the viewer is."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

from tests.helpers import wait_for
from tests.live.helpers import publish
from vetrina.accounts.models import Role
from vetrina.live.latency import READ_CLOCK_JS

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """Once, on the embedded default: the API tests cover PostgreSQL."""
    return f"sqlite:///{tmp_path / 'vetrina.db'}"


def test_a_live_show_plays_in_chromium_a_few_seconds_behind_the_camera(ingest, encoder, make_account, browser):
    merchant = make_account(Role.merchant)
    created = httpx.post(f"{ingest.api_url}/api/v1/live", headers=merchant.auth, json={"title": "Live, in Chromium"})
    show_id = created.json()["id"]
    base_us = int(time.time() * 1_000_000)
    host = publish(
        f"{ingest.rtmp_url}/{created.json()['stream_key']}", 45, size="854x480", rate=25, clock_base_us=base_us
    )
    try:
        page = browser.new_page()
        page.goto(f"{ingest.api_url}/live/{show_id}")  # before it streams: the page waits, then reloads
        wait_for(lambda: page.evaluate(READ_CLOCK_JS, [854]), timeout_s=40, message="a live frame on screen")
        behind_ms = []
        for _ in range(16):
            reading = page.evaluate(READ_CLOCK_JS, [854])
            behind_ms.append(reading["now"] - (base_us / 1000 + reading["ms"]))
            page.wait_for_timeout(500)
        assert page.evaluate("document.querySelector('video').paused") is False
        assert page.locator(".live-badge").is_visible()
    finally:
        host.kill()
        host.wait()
    # The clock read back is the camera's (not noise): it advances with the page's own clock.
    assert min(behind_ms) > 0 and max(behind_ms) - min(behind_ms) < 3000, behind_ms
    assert statistics.median(behind_ms) < 8000, behind_ms
