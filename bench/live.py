"""What the HTTP benchmarks share: a fresh Vetrina with one merchant, served by uvicorn on a loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.runtime import build_runtime
from vetrina.settings import Settings
from vetrina.web.app import create_app


@contextmanager
def merchant_client(data_dir: Path, timeout_s: float = 600) -> Iterator[httpx.Client]:
    """An HTTP client signed in as a new merchant of a new Vetrina in `data_dir` (in-process job workers)."""
    runtime = build_runtime(Settings(data_dir=data_dir, job_poll_max_s=0.1))
    with runtime.db.session() as session:
        user = accounts.create_user(session, "bench@example.com", "bench password", Role.merchant)
        session.flush()
        token = accounts.create_api_token(session, user)
    server = uvicorn.Server(uvicorn.Config(create_app(runtime, run_worker=True), host="127.0.0.1", port=0,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                          timeout=timeout_s) as http:  # fmt: skip
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.close()


@contextmanager
def served(env: dict[str, str], processes: int) -> Iterator[str]:
    """`vetrina serve --workers N` as a newcomer runs it, on a free loopback port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "vetrina", "serve", "--port", str(port), "--workers", str(processes)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
