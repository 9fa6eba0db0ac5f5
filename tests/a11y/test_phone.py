"""Phone first (issue 21, part 5): a 390×844 touch screen in Chromium. An upright (9:16) video fills the screen's
width, its product card and the checkout drawer leave the tagged product in sight, every target in the player, the
cards and the drawer is at least 44×44 px, and a purchase is made by taps alone while the film plays on. The
channel page and the studio fit the screen too. Screenshots are kept (tests/a11y/helpers.keep_screenshot)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.a11y.helpers import keep_screenshot
from tests.e2e.helpers import shop_the_look
from tests.helpers import sign_in_page, wait_in_page
from tests.studio.helpers import photo_bytes

pytestmark = pytest.mark.slow

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
# Where the shirt is on the picture, as fractions of the frame (the tag's box).
SHIRT_BOX = {"x": 0.3, "y": 0.42, "w": 0.4, "h": 0.22}
TAP = 44
# No animation running (a card slides in): what the screenshot shows is where things stay.
SETTLED = "document.getAnimations().every((a) => a.playState !== 'running')"

# The tagged box on screen: the picture's own rectangle inside the <video> (object-fit: contain letterboxes it),
# then the box's fractions of it.
BOX_ON_SCREEN = """(box) => {
    const v = document.querySelector('video'), r = v.getBoundingClientRect();
    const scale = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
    const w = v.videoWidth * scale, h = v.videoHeight * scale;
    const left = r.left + (r.width - w) / 2, top = r.top + (r.height - h) / 2;
    return { picture: { left, top, right: left + w, bottom: top + h },
             box: { left: left + box.x * w, top: top + box.y * h,
                    right: left + (box.x + box.w) * w, bottom: top + (box.y + box.h) * h } };
}"""

# Every visible target people tap inside the given containers, its size and a name to report it by. A box or a
# radio button is tapped through its label; a link inside a sentence is exempt (WCAG 2.5.8 "inline").
TARGETS = """(selectors) => [...new Set([...document.querySelectorAll(selectors)]
        .filter((e) => !e.matches('p a'))
        .map((e) => (e.matches('input[type=checkbox], input[type=radio]') && e.closest('label')) || e))]
    .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .map((e) => { const r = e.getBoundingClientRect();
                  return { name: e.className || e.tagName, text: (e.textContent || '').trim().slice(0, 30),
                           width: Math.round(r.width), height: Math.round(r.height) }; })"""


def rect(page: Any, selector: str) -> dict[str, float]:
    return page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect(); "
        "return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; }",
    )


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def small_targets(page: Any, within: str) -> list[dict[str, Any]]:
    selectors = ", ".join(
        f"{scope} {kind}"
        for scope in within.split(",")
        for kind in ("button", "a", "select", "input:not([type=hidden])", "[role=slider]")
    )
    return [t for t in page.evaluate(TARGETS, selectors) if t["width"] < TAP or t["height"] < TAP]


def test_a_phone_buys_by_taps_from_an_upright_video_with_the_product_in_sight(
    live_server, make_account, media_dir, browser, tmp_path
):
    _merchant, buyer, video_id, shirt, _mug = shop_the_look(
        live_server.url, make_account, media_dir, size="360x640", shirt_box=SHIRT_BOX
    )
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_page(page, live_server.url, buyer, f"/watch/{video_id}")
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.hls && window.vetrinaShop")
    wait_in_page(page, "document.querySelector('video').videoWidth > 0")

    # The upright picture fills the screen's width.
    screen = page.evaluate(BOX_ON_SCREEN, SHIRT_BOX)
    assert screen["picture"]["left"] <= 1 and screen["picture"]["right"] >= 389, screen["picture"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.tap(".controls .play")
    page.wait_for_selector('.product-card:has-text("Linen shirt")', timeout=20_000)
    page.evaluate("""() => { const v = document.querySelector('video'); v.muted = true; window.samples = [];
        window.sampler = setInterval(() => window.samples.push([v.paused, v.currentTime]), 100); }""")
    wait_in_page(page, SETTLED)
    keep_screenshot(page, tmp_path, "watch-card")
    screen = page.evaluate(BOX_ON_SCREEN, SHIRT_BOX)
    card = rect(page, '.product-card:has-text("Linen shirt")')
    assert not overlap(card, screen["box"]), ("the card covers the shirt", card, screen["box"])
    assert small_targets(page, ".controls, .product-card") == []

    page.tap('.product-card:has-text("Linen shirt") .card-buy')
    page.wait_for_selector(".drawer:not([hidden]) .drawer-pay")
    wait_in_page(page, SETTLED)
    keep_screenshot(page, tmp_path, "watch-drawer")
    screen = page.evaluate(BOX_ON_SCREEN, SHIRT_BOX)
    drawer = rect(page, ".drawer")
    assert not overlap(drawer, screen["box"]), ("the drawer covers the shirt", drawer, screen["box"])
    assert screen["box"]["top"] >= 0 and screen["box"]["bottom"] <= 844, ("the shirt is off screen", screen["box"])
    assert small_targets(page, ".drawer") == []

    page.tap(".drawer-pay")
    page.wait_for_selector(".drawer-done", timeout=20_000)
    keep_screenshot(page, tmp_path, "watch-paid")
    samples = page.evaluate("() => { clearInterval(window.sampler); return window.samples; }")
    assert not any(paused for paused, _ in samples), "the video paused during the purchase"
    assert samples[-1][1] > samples[0][1], "the video stood still during the purchase"
    # Still playing after it: half a second more of film (a quick purchase on a loaded machine may take less).
    wait_in_page(page, f"document.querySelector('video').currentTime > {samples[0][1] + 0.5}")
    assert errors == []
    (order,) = httpx.get(f"{live_server.url}/api/v1/orders", headers=buyer.auth).json()["items"]
    assert order["status"] == "WAIT_SELLER_SEND_GOODS" and order["items"][0]["product_id"] == shirt["id"]
    context.close()


def test_the_channel_page_and_the_studio_fit_a_phone(live_server, make_account, media_dir, browser, tmp_path):
    merchant, _buyer, _video_id, shirt, _mug = shop_the_look(live_server.url, make_account, media_dir, size="360x640")
    photo = {"file": ("p.jpg", photo_bytes((200, 80, 60), size=(320, 320)), "image/jpeg")}
    added = httpx.post(f"{live_server.url}/api/v1/products/{shirt['id']}/images", headers=merchant.auth, files=photo)
    assert added.status_code == 201, added.text
    handle = httpx.get(f"{live_server.url}/api/v1/me/channel", headers=merchant.auth).json()["handle"]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    sign_in_page(page, live_server.url, merchant, "/studio")

    page.goto(f"{live_server.url}/c/{handle}")
    keep_screenshot(page, tmp_path, "channel", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The upright video's card is upright too, two a row, its picture filling it (no bars beside it).
    thumb = rect(page, ".grid .thumb.upright")
    width, height = thumb["right"] - thumb["left"], thumb["bottom"] - thumb["top"]
    assert width >= 170 and abs(height / width - 16 / 9) < 0.02, thumb
    assert page.eval_on_selector(".grid .thumb.upright img", "i => getComputedStyle(i).objectFit") == "cover"
    assert small_targets(page, "main, footer, header") == []

    page.goto(f"{live_server.url}/studio")
    keep_screenshot(page, tmp_path, "studio", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert small_targets(page, "#studio-form, .studio") == []
    context.close()
