"""The shoppable widget (issue 20, item 6) on a shop's own site, in Chromium: the shop's page is served from another
loopback origin (127.0.0.2) than Vetrina's, and carries only the widget's script tag. The carousel loads the channel,
a video opens and plays in a modal of the embedded player, its product card shows, and the page hears the shopping
events; a shop allowed to sell in frames takes the purchase into its own cart, any other may not. Before a video is
opened the page loaded under 30 KB (gzipped) of script from Vetrina, and it never moved. The widget's labels speak
the shop page's language."""

from __future__ import annotations

import gzip

import httpx

from tests.widget.helpers import (
    desk_snippet,
    events_of,
    let_sell_in_frames,
    shop_page,
    shop_page_with,
    wait_in_frame,
)

BUDGET_BYTES = 30 * 1024
CAROUSEL_BOX = "display:block;height:200px"


def _open_page(browser, url: str):
    """A fresh page at `url`; the console messages and the scripts it loads are collected as they come. Chrome's own
    lines for answers of 400 and over ("Failed to load resource: ...", which no script can silence) are kept apart,
    with the address they name."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    console: list[str] = []
    scripts: list = []

    def heard(message) -> None:
        if message.text.startswith("Failed to load resource"):
            console.append(f"chrome: {message.text} {message.location.get('url')}")
        else:
            console.append(f"{message.type}: {message.text}")

    page.on("console", heard)
    page.on("response", lambda answer: scripts.append(answer) if answer.request.resource_type == "script" else None)
    page.goto(url)
    return page, console, scripts


def _widget_buttons(page, count: int = 1):
    buttons = page.locator(".vetrina-widget .open")
    buttons.nth(count - 1).wait_for(timeout=20_000)
    return buttons


def test_an_unknown_channel_shows_nothing_and_says_so_once(browser, widget_shop, shop_site):
    url = shop_site.add("/unknown.html", shop_page(widget_shop.url, data_channel="no-such-shop", style=CAROUSEL_BOX))
    page, console, _ = _open_page(browser, url)
    page.wait_for_function("window.performance.getEntriesByType('resource').some((e) => e.name.includes('/videos'))")
    page.wait_for_timeout(1000)  # time for any further message to arrive
    not_found = "chrome: Failed to load resource: the server responded with a status of 404 (Not Found)"
    assert console == [
        f"{not_found} {widget_shop.url}/api/v1/channels/no-such-shop/videos?per_page=24",
        "warning: Vetrina widget: there is no channel 'no-such-shop'.",
    ]
    assert page.locator(".vetrina-widget").count() == 1
    assert page.locator(".vetrina-widget li").count() == 0
    assert page.locator(".vetrina-widget").bounding_box()["height"] == 200  # still reserved: nothing moved
    assert page.evaluate("window.layoutShifts") == []


def _labels(page) -> list[str | None]:
    """What a screen reader names the widget's list of videos, its modal and the modal's Close button."""
    return [
        page.locator(f".vetrina-widget {part}").get_attribute("aria-label") for part in (".rail", "dialog", ".close")
    ]


def test_the_widgets_labels_speak_the_host_pages_language(browser, widget_shop, shop_site):
    """The shop's `<html lang="it">` gives Italian labels (in an English browser); a page that names no language
    gets the browser's (Chinese here)."""
    italian = shop_site.add("/it.html", shop_page(widget_shop.url, lang="it", data_channel=widget_shop.handle))
    page, console, _ = _open_page(browser, italian)
    _widget_buttons(page)
    assert _labels(page) == ["Video acquistabili", "Video acquistabile", "Chiudi"]
    assert page.get_by_role("list", name="Video acquistabili").count() == 1
    assert not [line for line in console if "Vetrina widget" in line or line.startswith("chrome")], console

    unnamed = shop_site.add("/no-lang.html", shop_page(widget_shop.url, lang=None, data_channel=widget_shop.handle))
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(unnamed)
    _widget_buttons(page)
    assert _labels(page) == ["可购物视频", "可购物视频", "关闭"]
    context.close()


def test_a_shop_allowed_to_sell_in_frames_takes_the_purchase_into_its_own_cart(browser, widget_shop, shop_site):
    with httpx.Client(base_url=widget_shop.url, timeout=30) as http:
        let_sell_in_frames(http, widget_shop.merchant, widget_shop.handle, [shop_site.origin])
    # The tag the merchant desk gives the merchant, with the shop's own cart asked for.
    snippet = desk_snippet(widget_shop.url, widget_shop.merchant.user.email, "carousel")
    assert f'data-channel="{widget_shop.handle}"' in snippet and "async" in snippet
    url = shop_site.add("/own-cart.html", shop_page_with(snippet.replace(" async", ' data-cart="host" async')))
    page, console, scripts = _open_page(browser, url)
    buttons = _widget_buttons(page)
    assert buttons.count() == 1 and buttons.first.inner_text() == "Summer looks"
    # The thumbnails wait until they are near the screen, and the page's CSS reaches none of the widget.
    assert buttons.first.locator("img").get_attribute("loading") == "lazy"
    page.wait_for_function("document.querySelector('.vetrina-widget').shadowRoot.querySelector('img').complete")
    assert buttons.first.evaluate("(b) => getComputedStyle(b).backgroundColor") != "rgb(255, 0, 0)"
    assert buttons.first.locator("img").evaluate("(i) => i.getBoundingClientRect().width") > 100

    # The budget: what the page ran from Vetrina before a video opened, gzipped.
    from_vetrina = [r for r in scripts if r.url.startswith(widget_shop.url)]
    assert [r.url for r in from_vetrina] == [f"{widget_shop.url}/static/widget.js"]
    assert sum(len(gzip.compress(r.body())) for r in from_vetrina) < BUDGET_BYTES
    assert page.evaluate("window.layoutShifts") == []

    buttons.first.click()
    player = page.frame_locator(".vetrina-widget iframe")
    wait_in_frame(player.locator("video"), "(v) => v.currentTime > 1")
    player.locator('.product-card:has-text("Linen shirt")').wait_for(timeout=20_000)
    page.wait_for_function("window.shopEvents.some((e) => e.type === 'product_viewed')")
    shirt = widget_shop.shirt
    expected_product = {
        "id": shirt["id"],
        "title": "Linen shirt",
        "price": 5900,
        "currency": "EUR",
        "url": f"{widget_shop.url}/p/{shirt['id']}",
    }
    viewed = events_of(page, "product_viewed")[0]
    assert viewed == {
        "source": "vetrina",
        "version": 1,
        "type": "product_viewed",
        "channel": widget_shop.handle,
        "video_id": widget_shop.video_id,
        "product": expected_product,
    }
    assert [e["cart"] for e in events_of(page, "cart")] == ["host"]

    player.locator('.product-card:has-text("Linen shirt") .card-buy').click()
    page.wait_for_function("window.shopEvents.some((e) => e.type === 'add_to_cart')")
    assert [e["product"] for e in events_of(page, "add_to_cart")] == [expected_product]
    page.wait_for_timeout(500)
    assert player.locator(".drawer").is_hidden()  # Vetrina's checkout stayed shut: the shop's cart has it
    assert events_of(page, "checkout") == []
    wait_in_frame(player.locator("video"), "(v) => !v.paused")

    # Escape in the player closes the modal, the film stops, and the focus is back on the video's button.
    player.locator(".controls .mute").focus()
    page.keyboard.press("Escape")
    page.locator(".vetrina-widget dialog").wait_for(state="hidden")
    assert page.locator(".vetrina-widget iframe").count() == 0
    assert page.evaluate("document.querySelector('.vetrina-widget').shadowRoot.activeElement.className") == "open"
    assert page.evaluate("window.layoutShifts") == []
    assert not [line for line in console if "Vetrina widget" in line or line.startswith("chrome")], console


def test_a_shop_not_allowed_keeps_vetrinas_checkout_and_the_film_still_plays(browser, widget_shop, shop_site):
    with httpx.Client(base_url=widget_shop.url, timeout=30) as http:
        let_sell_in_frames(http, widget_shop.merchant, widget_shop.handle, [])
    url = shop_site.add(
        "/stories.html",
        shop_page(
            widget_shop.url,
            data_channel=widget_shop.handle,
            data_layout="stories",
            data_cart="host",
            style="display:block;height:128px",
        ),
    )
    page, _console, _ = _open_page(browser, url)
    button = _widget_buttons(page).first
    assert page.locator(".vetrina-widget").bounding_box()["height"] == 128
    assert button.locator("img").evaluate("(i) => getComputedStyle(i).borderRadius") == "50%"

    # By keyboard: the video's button takes the focus and Enter opens it.
    button.focus()
    page.keyboard.press("Enter")
    player = page.frame_locator(".vetrina-widget iframe")
    page.wait_for_function("window.shopEvents.some((e) => e.type === 'cart')")
    assert [e["cart"] for e in events_of(page, "cart")] == ["vetrina"]  # the shop asked, and was refused
    wait_in_frame(player.locator("video"), "(v) => v.currentTime > 1")
    player.locator('.product-card:has-text("Linen shirt")').wait_for(timeout=20_000)
    page.wait_for_function("window.shopEvents.some((e) => e.type === 'product_viewed')")

    player.locator('.product-card:has-text("Linen shirt") .card-buy').click()
    player.locator(".drawer:not([hidden]) .drawer-top-level").wait_for()  # Vetrina's own way to buy
    assert [e["product"]["title"] for e in events_of(page, "add_to_cart")] == ["Linen shirt"]
    with page.context.expect_page() as opened:
        player.locator(".drawer-top-level").click()
    assert opened.value.url.startswith(f"{widget_shop.url}/watch/{widget_shop.video_id}")
    assert [e["product"]["id"] for e in events_of(page, "checkout")] == [widget_shop.shirt["id"]]

    # Escape on the modal's own close button closes it too, and the focus returns.
    page.bring_to_front()
    page.locator(".vetrina-widget .close").focus()
    page.keyboard.press("Escape")
    page.locator(".vetrina-widget dialog").wait_for(state="hidden")
    assert page.evaluate("document.querySelector('.vetrina-widget').shadowRoot.activeElement.className") == "open"
    assert page.evaluate("window.layoutShifts") == []
