"""Helpers of the browser tests: a shoppable video set up over HTTP, buying from a card while it plays, another
site's page that frames the player, and buying in that frame."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from typing import Any

import httpx

from tests.helpers import make_clip, other_site, sign_in_page, wait_for, wait_in_page
from vetrina.accounts.models import Role


def shop_the_look(url, make_account, media_dir, currency="EUR", while_transcoding=None, size="854x480", shirt_box=None):
    """A ready 12 s video (`size` pixels) by a merchant, with a shirt tagged over 1–9 s (where `shirt_box` says on
    the picture, if given) and a mug over 9–12 s; a funded buyer. `while_transcoding(video_id)`, if given, runs once
    the upload is accepted, before the wait for ready."""
    merchant, buyer = make_account(Role.merchant), make_account(Role.viewer)
    clip = make_clip(media_dir / f"e2e-12s-{size}.mp4", 12, size=size)
    with httpx.Client(base_url=url, timeout=30) as http, clip.open("rb") as handle:
        video_id = http.post(
            "/api/v1/videos", headers=merchant.auth, data={"title": "Shop the look"}, files={"file": ("c.mp4", handle)}
        ).json()["id"]
        shirt = http.post(
            "/api/v1/products",
            headers=merchant.auth,
            json={"title": "Linen shirt", "price": {"amount": 5900, "currency": currency}, "stock": 3},
        ).json()
        mug = http.post(
            "/api/v1/products",
            headers=merchant.auth,
            json={"title": "Mug", "price": {"amount": 1800, "currency": currency}, "stock": 3},
        ).json()
        http.post("/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 20_000, "currency": "EUR"})
        if while_transcoding is not None:
            while_transcoding(video_id)
        wait_for(
            lambda: http.get(f"/api/v1/videos/{video_id}", headers=merchant.auth).json()["status"] == "ready",
            timeout_s=180,
            message="the video to be ready",
        )
        for product_id, start, end, box in ((shirt["id"], 1, 9, shirt_box), (mug["id"], 9, 12, None)):
            created = http.post(
                f"/api/v1/videos/{video_id}/tags",
                headers=merchant.auth,
                json={"product_id": product_id, "start_s": start, "end_s": end, "box": box},
            )
            assert created.status_code == 201, created.text
    return merchant, buyer, video_id, shirt, mug


def watch_signed_in(page: Any, site: str, account: Any, video_id: int) -> None:
    """Sign `account` in at `site`'s login page, which leads on to the video's watch page; wait for its player."""
    sign_in_page(page, site, account, f"/watch/{video_id}")
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.hls && window.vetrinaShop")


def buy_while_playing(page: Any, product: str) -> None:
    """Play the watch page's video, buy `product` from its card in the drawer, and check that the video never
    paused and its time ran on through the purchase (sampled every 100 ms inside the page)."""
    page.evaluate("""() => {
        const v = document.querySelector('video'); v.muted = true; v.play();
        window.samples = []; window.sampler = setInterval(() => window.samples.push([v.paused, v.currentTime]), 100);
    }""")
    page.wait_for_selector(f'.product-card:has-text("{product}")', timeout=20_000)
    page.click(f'.product-card:has-text("{product}") .card-buy')
    page.wait_for_selector(".drawer:not([hidden]) .drawer-pay")
    page.click(".drawer-pay")
    page.wait_for_selector(".drawer-done", timeout=20_000)
    page.wait_for_timeout(500)
    samples = page.evaluate("() => { clearInterval(window.sampler); return window.samples; }")
    started = next(i for i, (_, t) in enumerate(samples) if t > 0)
    during = samples[started:]
    assert len(during) > 10
    assert not any(paused for paused, _ in during), "the video paused during the purchase"
    times = [t for _, t in during]
    assert all(b >= a for a, b in zip(times, times[1:], strict=False)) and times[-1] > times[0] + 1


@contextmanager
def framing_site(host: str, frame_url: str, port: int = 0) -> Iterator[str]:
    """A page on `host` (another site than the app's) that shows `frame_url` in an iframe; yields the page's URL."""
    page = (
        f'<html><body><h1>A shop</h1><iframe src="{escape(frame_url)}" width="960" height="640"></iframe></body></html>'
    )
    with other_site(host, port) as site:
        yield site.add("/", page)


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
