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
from tests.studio.helpers import photo_bytes

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
    assert samples[-1][1] > samples[0][1], "the video's time did not run on"
    wait_in_page(page, f"document.querySelector('video').currentTime > {samples[0][1] + 1}")  # and still runs
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
    # The button is relabelled by the video's "play" event, a task after `paused` turns false.
    wait_in_page(page, "document.querySelector('.controls .play').getAttribute('aria-label') === 'Pause'")
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


def test_a_tag_is_placed_in_the_tag_editor_by_keyboard_alone(live_server, make_account, media_dir, browser):
    merchant, _buyer, video_id, _shirt, mug = shop_the_look(live_server.url, make_account, media_dir)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_page(page, live_server.url, merchant, f"/videos/{video_id}/tags")

    tab_to(page, "#tag-form select[name=product_id]")
    page.keyboard.type("Mug")  # a select's type-ahead
    assert page.eval_on_selector("#tag-form select[name=product_id]", "s => s.value") == str(mug["id"])
    tab_to(page, "#tag-form input[name=start_s]", limit=3)
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    tab_to(page, "#tag-form input[name=end_s]", limit=3)
    page.keyboard.press("Control+A")
    page.keyboard.type("6")
    tab_to(page, "#tag-form input[name=placed]", limit=3)
    page.keyboard.press("Space")
    # The box over the picture: five steps right, three down, then ten steps narrower.
    tab_to(page, "#tag-box", key="Shift+Tab")
    for key, times in (("ArrowRight", 5), ("ArrowDown", 3), ("Shift+ArrowLeft", 10)):
        for _ in range(times):
            page.keyboard.press(key)
    assert page.inner_text("#tag-box-where") == "left 40%, top 38%, width 20%, height 30%"
    tab_to(page, "#tag-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#tag-status:has-text('Tagged')")
    assert "Mug" in page.inner_text("#tag-list")
    assert focused(page, "#tag-form button[type=submit]")

    tags = httpx.get(f"{live_server.url}/api/v1/videos/{video_id}/tags", headers=merchant.auth).json()
    (placed,) = [tag for tag in tags if tag["start_s"] == 2]
    assert placed["product_id"] == mug["id"] and placed["end_s"] == 6
    assert placed["box"] == pytest.approx({"x": 0.40, "y": 0.38, "w": 0.20, "h": 0.30})
    assert errors == []
    context.close()


def test_a_studio_preview_by_keyboard_alone(live_server, make_account, media_dir, browser):
    merchant, _buyer, _video_id, _shirt, mug = shop_the_look(live_server.url, make_account, media_dir)
    photo = {"file": ("p.jpg", photo_bytes((60, 120, 200), size=(320, 320)), "image/jpeg")}
    # The studio ticks the newest product first: the mug, with its photo.
    added = httpx.post(f"{live_server.url}/api/v1/products/{mug['id']}/images", headers=merchant.auth, files=photo)
    assert added.status_code == 201, added.text
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_page(page, live_server.url, merchant, "/studio")

    tab_to(page, "input[name=headline]", limit=80)
    page.keyboard.type("Linen for summer")
    tab_to(page, "#preview-button", limit=40)
    page.keyboard.press("Enter")
    page.wait_for_selector("#preview-video:not([hidden]), #studio-error:not([hidden])", timeout=60_000)
    assert page.locator("#studio-error").is_hidden(), page.inner_text("#studio-error")
    # The outcome is read out where it is written, and the button pressed still has the focus.
    assert page.get_attribute("#preview-hint", "role") == "status"
    assert "Preview" in page.inner_text("#preview-hint")
    assert focused(page, "#preview-button")
    context.close()


def test_the_sticky_top_bar_never_hides_the_focus(live_server, make_account, media_dir, browser):
    merchant, _buyer, _video_id, _shirt, _mug = shop_the_look(live_server.url, make_account, media_dir)
    context = browser.new_context(viewport={"width": 1280, "height": 500})
    page = context.new_page()
    sign_in_page(page, live_server.url, merchant, "/merchant")
    # From the page's last control back up to its top, Shift+Tab by Shift+Tab (focus scrolls the page up under the
    # bar), each focused control stays at least partly below the bar (WCAG 2.4.11).
    page.locator("footer button").focus()
    hidden = []
    for _ in range(80):
        page.keyboard.press("Shift+Tab")
        where = page.evaluate(f"""() => {{
            const e = {ACTIVE}, bar = document.querySelector('.topbar').getBoundingClientRect();
            if (!e || e === document.body || e.closest('.topbar') || e.classList.contains('skip-link')) return null;
            const r = e.getBoundingClientRect();
            return {{ what: e.outerHTML.slice(0, 80), bottom: r.bottom, bar: bar.bottom }};
        }}""")
        if where and where["bottom"] <= where["bar"]:
            hidden.append(where)
    assert page.evaluate("window.scrollY") == 0  # it went all the way up
    assert hidden == []
    context.close()
