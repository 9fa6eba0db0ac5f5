"""The keyboard alone, in Chromium (issue 21, part 3): the player's controls, a purchase from a card while the video
plays (Tab to the card, Enter, pay in the drawer, the confirmation announced), the drawer as a dialog (focus moved
in, kept in, Escape closes, focus back on the card), the skip link, and a tag placed in the tag editor without a
mouse."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.helpers import shop_the_look
from tests.helpers import sign_in_page, wait_in_page

pytestmark = pytest.mark.slow

ACTIVE = "document.activeElement"


def tab_to(page: Any, selector: str, limit: int = 60, key: str = "Tab") -> None:
    """Press Tab (or `key`) until the focused element matches `selector`; fail if it is not reached in `limit`."""
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate(f"{ACTIVE} && {ACTIVE}.matches({selector!r})"):
            return
    trail = page.evaluate(f"{ACTIVE} ? {ACTIVE}.outerHTML.slice(0, 120) : null")
    raise AssertionError(f"{limit} presses of {key} never reached {selector} (last focus: {trail})")


def focused(page: Any, selector: str) -> bool:
    return page.evaluate(f"{ACTIVE} && {ACTIVE}.matches({selector!r})")


def test_a_keyboard_only_purchase_while_the_video_plays(live_server, make_account, media_dir, browser):
    _merchant, buyer, video_id, shirt, _mug = shop_the_look(live_server.url, make_account, media_dir)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_page(page, live_server.url, buyer, f"/watch/{video_id}")
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.hls && window.vetrinaShop")
    page.evaluate("document.querySelector('video').muted = true")  # no sound in a test run; playing is the point

    # The skip link comes first and leads past the top bar.
    page.keyboard.press("Tab")
    assert focused(page, ".skip-link") and page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"

    tab_to(page, ".controls .play")
    page.keyboard.press("Enter")
    wait_in_page(page, "!document.querySelector('video').paused")
    page.evaluate("""() => { const v = document.querySelector('video'); window.samples = [];
        window.sampler = setInterval(() => window.samples.push([v.paused, v.currentTime]), 100); }""")
    shown = page.wait_for_selector('.product-card:has-text("Linen shirt")', timeout=20_000)
    card = f'.product-card[data-tag="{shown.get_attribute("data-tag")}"]'
    # The card was announced: it appeared inside a polite live region.
    assert shown.evaluate("e => e.closest('[aria-live=polite]') !== null")

    tab_to(page, f"{card} .card-buy", limit=12)
    page.keyboard.press("Enter")
    page.wait_for_selector(".drawer:not([hidden]) .drawer-pay")
    dialog = page.locator(".drawer")
    assert dialog.get_attribute("role") == "dialog" and dialog.get_attribute("aria-labelledby")
    assert page.evaluate(f"document.querySelector('.drawer').contains({ACTIVE})"), "focus did not move into the drawer"
    for _ in range(12):  # focus stays inside while it is open, both ways round
        page.keyboard.press("Tab")
        assert page.evaluate(f"document.querySelector('.drawer').contains({ACTIVE})"), "Tab left the open drawer"
    for _ in range(4):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(f"document.querySelector('.drawer').contains({ACTIVE})"), "Shift+Tab left the drawer"

    # Escape closes it and gives focus back to the Buy that opened it; Enter opens it again.
    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    assert focused(page, f"{card} .card-buy")
    page.keyboard.press("Enter")
    page.wait_for_selector(".drawer:not([hidden]) .drawer-pay")
    tab_to(page, ".drawer-pay", limit=12)
    page.keyboard.press("Enter")
    page.wait_for_selector(".drawer-done", timeout=20_000)
    announced = page.locator(".drawer [role=status], .drawer [role=alert], .drawer [aria-live]").filter(
        has=page.locator(".drawer-done")
    )
    assert announced.count() == 1 and "Paid" in announced.inner_text()
    assert page.evaluate(f"document.querySelector('.drawer').contains({ACTIVE})")  # focus was not lost to <body>

    page.wait_for_timeout(500)
    samples = page.evaluate("() => { clearInterval(window.sampler); return window.samples; }")
    assert len(samples) > 10 and not any(paused for paused, _ in samples), "the video paused during the purchase"
    assert samples[-1][1] > samples[0][1] + 1, "the video's time did not run on"
    assert errors == []
    (order,) = httpx.get(f"{live_server.url}/api/v1/orders", headers=buyer.auth).json()["items"]
    assert order["status"] == "WAIT_SELLER_SEND_GOODS" and order["items"][0]["product_id"] == shirt["id"]
    assert order["source"]["video_id"] == video_id
    context.close()


def test_the_players_controls_work_from_the_keyboard(live_server, make_account, media_dir, browser):
    _merchant, buyer, video_id, _shirt, _mug = shop_the_look(live_server.url, make_account, media_dir)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in_page(page, live_server.url, buyer, f"/watch/{video_id}")
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.hls && document.querySelector('video').duration")
    page.evaluate("document.querySelector('video').muted = true")
    video = "document.querySelector('video')"

    tab_to(page, ".controls .play")
    page.keyboard.press("Space")
    wait_in_page(page, f"!{video}.paused")
    assert page.get_attribute(".controls .play", "aria-label") == "Pause"
    page.keyboard.press("Enter")
    wait_in_page(page, f"{video}.paused")

    tab_to(page, ".seek[role=slider]")
    page.keyboard.press("ArrowRight")
    wait_in_page(page, f"{video}.currentTime >= 4.9")
    # The slider says where it is in words (after the seek's timeupdate).
    wait_in_page(page, "document.querySelector('.seek').getAttribute('aria-valuetext').startsWith('0:05 of 0:12')")
    page.keyboard.press("ArrowLeft")
    wait_in_page(page, f"{video}.currentTime < 1")
    page.keyboard.press("End")
    wait_in_page(page, f"{video}.currentTime > 11")
    page.keyboard.press("Home")
    wait_in_page(page, f"{video}.currentTime < 1")
    page.keyboard.press("Space")  # on the bar, Space plays as on the rest of the player
    wait_in_page(page, f"!{video}.paused")

    tab_to(page, ".controls .mute")
    page.keyboard.press("Enter")
    wait_in_page(page, f"!{video}.muted")
    assert page.get_attribute(".controls .mute", "aria-label") == "Mute"
    # Every control shows where the focus is.
    outline = page.evaluate(f"getComputedStyle({ACTIVE}).outlineStyle")
    assert outline != "none"
    context.close()
