"""Fixtures of the live-show tests: nginx-rtmp (required under CI) in front of a Vetrina served over real HTTP, and
the live encoder taking its streams."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import free_port
from tests.live.helpers import nginx_rtmp, rtmp_missing
from vetrina.live.encoder import LiveEncoder
from vetrina.settings import Settings


@dataclass
class Ingest:
    rtmp_url: str  # the `live` application: publish to rtmp_url/stream_key
    api_url: str


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with this test's nginx-rtmp on free loopback ports and a 480p cap on live rungs."""
    rtmp_url = f"rtmp://127.0.0.1:{free_port()}/live"
    return settings.model_copy(
        update={
            "live_rtmp_url": rtmp_url,
            "live_rtmp_pull_url": rtmp_url,
            "live_rtmp_control_url": f"http://127.0.0.1:{free_port()}",
            "live_ladder_heights": [480, 360],
        }
    )


@pytest.fixture
def ingest(live_server, tmp_path: Path) -> Iterator[Ingest]:
    if reason := rtmp_missing():
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with nginx_rtmp(tmp_path / "nginx-rtmp", live_server.ctx.settings, live_server.url) as rtmp_url:
        yield Ingest(rtmp_url, live_server.url)


@pytest.fixture
def encoder(ingest, live_server) -> Iterator[LiveEncoder]:
    """The live encoder, as `vetrina live encoder` runs it, in a thread of the test."""
    encoder = LiveEncoder(live_server.ctx)
    stop = threading.Event()
    thread = threading.Thread(target=encoder.run, args=(stop,), daemon=True)
    thread.start()
    yield encoder
    stop.set()
    thread.join(timeout=30)
