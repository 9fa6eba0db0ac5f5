"""A partner's web server on this machine (real HTTP on 127.0.0.1) that serves feeds and media by path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Served:
    body: bytes | Path
    content_type: str
    declare_length: bool  # False: no Content-Length, the body ends when the connection closes


class PartnerSite:
    """What the partner publishes: `put` a body (bytes, or a file streamed from disk) at a path; its URL back."""

    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.requests: list[str] = []
        self.gates: dict[str, threading.Barrier] = {}
        self.url = ""

    def put(
        self, path: str, body: bytes | Path, content_type: str = "application/rss+xml", declare_length: bool = True
    ) -> str:
        self.files[path] = Served(body, content_type, declare_length)
        return self.url + path

    def hold(self, path: str, requests: int) -> None:
        """Answer `path` only once `requests` requests for it have arrived (downloads that end together)."""
        self.gates[path] = threading.Barrier(requests, timeout=20)


@pytest.fixture
def partner_site() -> Iterator[PartnerSite]:
    site = PartnerSite()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            site.requests.append(self.path)
            if self.path in site.gates:
                site.gates[self.path].wait()
            served = site.files.get(self.path)
            if served is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", served.content_type)
            size = served.body.stat().st_size if isinstance(served.body, Path) else len(served.body)
            if served.declare_length:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            if isinstance(served.body, bytes):
                self.wfile.write(served.body)
                return
            with served.body.open("rb") as file:
                while chunk := file.read(64 * 1024):
                    self.wfile.write(chunk)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
