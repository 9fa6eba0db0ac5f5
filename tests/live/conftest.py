"""Fixtures of the live-show tests: nginx-rtmp (required under CI) in front of a Vetrina served over real HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live.helpers import nginx_rtmp, rtmp_missing


@dataclass
class Ingest:
    rtmp_url: str  # the `live` application: publish to rtmp_url/stream_key
    api_url: str


@pytest.fixture
def ingest(live_server, tmp_path: Path) -> Iterator[Ingest]:
    if reason := rtmp_missing():
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with nginx_rtmp(tmp_path / "nginx-rtmp", live_server.ctx.settings, live_server.url) as rtmp_url:
        yield Ingest(rtmp_url, live_server.url)
