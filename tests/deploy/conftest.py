"""Fixtures of the deployment tests: Debian's nginx (required under CI), and for the multi-node proof a PostgreSQL
schema and moto's S3 in processes of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.helpers import nginx_missing
from tests.helpers import POSTGRES_URL, free_port, postgres_schema, postgres_unreachable, wait_for


@pytest.fixture
def needs_nginx() -> None:
    if reason := nginx_missing():
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def cluster_database_url() -> Iterator[str]:
    """A PostgreSQL database every node of the cluster shares (a schema of the test's own)."""
    if reason := postgres_unreachable():
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with postgres_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def store_process(tmp_path: Path) -> Iterator[str]:
    """moto's S3 server in a process of its own on 127.0.0.5 (nothing shared with the test's process); its URL."""
    import httpx

    port = free_port()
    endpoint = f"http://127.0.0.5:{port}"
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.5", "-p", str(port)],
        stdout=(tmp_path / "moto.log").open("wb"),
        stderr=subprocess.STDOUT,
    )

    def answers() -> bool:
        try:
            return httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code < 500
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, timeout_s=20, message="moto to listen")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)
