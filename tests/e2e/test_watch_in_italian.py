"""The watch page in the reader's language, in real Chromium: the switcher's cookie says Italian, so the page says
so (its <html lang>, the switcher), and the drawer's prices and the purchase's confirmation are written the Italian
way by the scripts (texts.js's moneyText through Intl), whatever the catalogues hold."""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import shop_the_look, watch_signed_in
from tests.helpers import wait_in_page

pytestmark = pytest.mark.slow

# 59,00 € as Italian writes euros: a decimal comma, the sign after a (no-break) space.
ITALIAN_59_EUROS = re.compile(r"59,00\s€")


def test_an_italian_reader_sees_the_watch_page_and_the_drawer_in_italian(live_server, make_account, media_dir, browser):
    _merchant, buyer, video_id, _shirt, _mug = shop_the_look(live_server.url, make_account, media_dir)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "vetrina_language", "value": "it", "url": live_server.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    watch_signed_in(page, live_server.url, buyer, video_id)

    assert page.locator("html").get_attribute("lang") == "it"
    assert page.evaluate("VETRINA_LOCALE") == "it"
    switcher = page.locator("#language-choice")
    assert switcher.input_value() == "it"
    assert switcher.locator("option:checked").inner_text() == "Italiano"

    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play(); }")
    card = page.locator('.product-card:has-text("Linen shirt")')
    card.wait_for(timeout=20_000)
    assert ITALIAN_59_EUROS.fullmatch(card.locator("span").first.inner_text())
    card.locator(".card-buy").click()
    page.wait_for_selector(".drawer:not([hidden]) .drawer-pay")
    assert ITALIAN_59_EUROS.fullmatch(page.locator(".drawer .price").inner_text())
    page.click(".drawer-pay")
    page.wait_for_selector(".drawer-done", timeout=20_000)
    # The order's total comes from the API in minor units: only the script wrote it as money.
    done = page.locator(".drawer-done").inner_text()
    assert ITALIAN_59_EUROS.search(done) and "€59.00" not in done
    wait_in_page(page, "document.querySelectorAll('.shelf-item .price').length === 2")
    assert ITALIAN_59_EUROS.fullmatch(page.locator(".shelf-item .price").first.inner_text())
    assert errors == []
    context.close()
