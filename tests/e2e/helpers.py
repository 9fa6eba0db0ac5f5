"""Helpers of the browser tests: another site's page that frames the player, and buying in that frame."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def framing_site(host: str, frame_url: str, port: int = 0) -> Iterator[str]:
    """A page on `host` (another site than the app's) that shows `frame_url` in an iframe; yields the page's URL."""
    page = (
        f'<html><body><h1>A shop</h1><iframe src="{escape(frame_url)}" width="960" height="640"></iframe></body></html>'
    )

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def buy_in_frame(browser: Any, site: str, product: str = "Linen shirt") -> tuple[Any, Any, list[str]]:
    """`site`'s page in Chromium: play the framed video and press Buy on `product`'s card; the page, the frame
    and the page errors seen (collected until the test ends)."""
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site)
    frame = page.frame_locator("iframe")
    frame.locator(".controls .play").click()
    card = frame.locator(f'.product-card:has-text("{product}")')
    card.wait_for(timeout=20_000)
    card.locator(".card-buy").click()
    return page, frame, errors
