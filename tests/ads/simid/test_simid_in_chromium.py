"""The overlay ad's SIMID creative in real Chromium, framed by another site's player (a page on 127.0.0.2 that speaks
SIMID 1.2 as a player does): the session opens, init and startCreative are answered, the card shows the product's
title and price, and its Buy reaches Vetrina's checkout for the product (its page with the buy form) through a
clickThru, whichever side opens the landing page, with the click counted once."""

from __future__ import annotations

import pytest

from tests.helpers import wait_in_page
from vetrina.ads.models import AdEvent, Campaign

pytestmark = pytest.mark.slow


def answered(sent: list[dict], received: list[dict], message_type: str) -> bool:
    """Did the creative resolve the player's message of this type?"""
    asked = {m["messageId"] for m in sent if m["type"] == message_type}
    return bool(asked) and asked <= {m["args"]["messageId"] for m in received if m["type"] == "resolve"}


@pytest.mark.parametrize("navigation", ["playerHandles", "adHandles"])
def test_another_sites_player_shows_the_card_and_its_buy_action_reaches_checkout(
    overlay_ad, player_site, browser, live_server, navigation
):
    # Headless Chromium says "HeadlessChrome", which ad tracking filters out as a bot: speak as the browser it is.
    agent = (
        f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{browser.version} Safari/537.36"
    )
    context = browser.new_context(viewport={"width": 900, "height": 600}, user_agent=agent)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{player_site}/player.html?navigation={navigation}")
        page.evaluate("url => window.loadCreative(url)", overlay_ad.url + overlay_ad.creative_path)
        wait_in_page(page, "window.harness.started", timeout_ms=20_000)
        creative = page.frame_locator("#creative")
        creative.locator(".simid-card").wait_for(state="visible")
        assert creative.locator(".simid-title").inner_text() == "Sponsored mug"
        assert creative.locator(".simid-price").inner_text() == "€18.00"
        assert creative.locator(".simid-image").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0

        sent, received = page.evaluate("window.harness.sent"), page.evaluate("window.harness.received")
        assert received[0]["type"] == "createSession" and len(received[0]["sessionId"]) == 32
        assert {m["sessionId"] for m in received} == {received[0]["sessionId"]}
        assert [m["messageId"] for m in received] == list(range(len(received))), "the creative counts from 0"
        assert answered(sent, received, "SIMID:Player:init") and answered(sent, received, "SIMID:Player:startCreative")

        product_id = overlay_ad.product["id"]
        for _ in range(2):  # a second Buy leads to the product again, and is not counted again
            with context.expect_page() as opened:
                creative.locator(".simid-buy").click()
            landing = opened.value
            landing.wait_for_load_state()
            assert landing.url == f"{overlay_ad.url}/p/{product_id}"
            assert landing.locator(f'form.buy[action="/p/{product_id}/buy"]').count() == 1
            assert landing.locator("h1").inner_text() == "Sponsored mug"
            landing.close()

        click_thrus = page.evaluate("window.harness.clickThrus")
        assert len(click_thrus) == 2
        for click in click_thrus:
            assert isinstance(click["x"], int) and isinstance(click["y"], int)
            if navigation == "playerHandles":  # the player opens the page the creative names
                assert click["playerHandles"] is True and click["url"] == overlay_ad.click_url
            else:  # the creative opened it itself
                assert click["playerHandles"] is False and "url" not in click

        with live_server.ctx.db.session() as session:
            events = session.query(AdEvent).all()
            assert [(e.campaign_id, e.event, e.filtered_reason) for e in events] == [
                (overlay_ad.campaign_id, "click", None)
            ]
            spent = session.get(Campaign, overlay_ad.campaign_id).spent_millis
            assert spent == events[0].charged_millis > 0, "a CPC campaign pays for the one click"

        creative.locator(".simid-close").click()
        wait_in_page(page, "window.harness.stopped", timeout_ms=10_000)
        received = page.evaluate("window.harness.received")
        assert "SIMID:Creative:requestStop" in [m["type"] for m in received]
        assert answered(page.evaluate("window.harness.sent"), received, "SIMID:Player:adStopped")
        assert creative.locator(".simid-card").is_hidden()
        assert errors == []
    finally:
        context.close()
