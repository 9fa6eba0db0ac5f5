"""`vetrina serve --demo-live`, as `make run` starts it: the server runs nginx-rtmp and the live encoder beside itself,
the demo's show goes live from a generated picture, and stopping the server stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers import free_port, wait_for
from tests.live.helpers import rtmp_missing
from vetrina.accounts.models import Role
from vetrina.demo import DEMO_USERS

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """Once, on the embedded default: the API tests cover PostgreSQL."""
    return f"sqlite:///{tmp_path / 'vetrina.db'}"


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_runs_the_live_stack_with_the_demo_show_and_stops_it(settings, make_account):
    if reason := rtmp_missing():
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    make_account(Role.merchant, email=DEMO_USERS[0][0])
    port = free_port()
    env = {
        **os.environ,
        **{f"VETRINA_{name.upper()}": str(getattr(settings, name)) for name in ("data_dir", "database_url")},
        "VETRINA_SECRET_KEY": "test-secret",
        "VETRINA_LIVE_RTMP_URL": settings.live_rtmp_url,
        "VETRINA_LIVE_RTMP_PULL_URL": settings.live_rtmp_pull_url,
        "VETRINA_LIVE_RTMP_CONTROL_URL": settings.live_rtmp_control_url,
        "VETRINA_LIVE_LADDER_HEIGHTS": "[360]",
        "VETRINA_X264_PRESET": "ultrafast",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "vetrina", "serve", "--port", str(port), "--demo-live"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rtmp_port = urlsplit(settings.live_rtmp_pull_url).port
    try:
        url = f"http://127.0.0.1:{port}"

        def streaming() -> dict | None:
            try:
                shows = httpx.get(f"{url}/api/v1/live", params={"status": "live"}, timeout=2).json()
            except httpx.HTTPError:
                return None
            return next((show for show in shows if show["hls_url"]), None)

        show = wait_for(streaming, timeout_s=60, message="the demo show to stream")
        playlist = wait_for(
            lambda: (
                (answer := httpx.get(url + show["hls_url"].replace("master.m3u8", "360p/index.m3u8"))).status_code
                == 200
                and answer.text
            ),
            timeout_s=30,
            message="its first segments",
        )
        assert "#EXT-X-PROGRAM-DATE-TIME" in playlist
        assert "LIVE" in httpx.get(f"{url}/").text  # the home page lists it
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert rtmp_port is not None and not _listening(rtmp_port)  # nginx-rtmp stopped with the server
