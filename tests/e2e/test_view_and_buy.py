"""View and Buy in real Chromium: a card appears at its second, the viewer buys in the drawer, and the video
never stops playing."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.helpers import buy_in_frame, buy_while_playing, framing_site, shop_the_look, watch_signed_in
from tests.helpers import PASSWORD, free_port, sign_in_page, wait_for, wait_in_page
from vetrina.accounts.models import Role

pytestmark = pytest.mark.slow


def test_buy_from_a_card_while_the_video_plays(live_server, make_account, media_dir, browser):
    _merchant, buyer, video_id, shirt, _mug = shop_the_look(live_server.url, make_account, media_dir)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    watch_signed_in(page, live_server.url, buyer, video_id)
    assert page.locator('[data-testid="sandbox-banner"]').is_visible()  # the demo's money is not real, and says so
    # The shop layer draws its markers once the timeline has been fetched.
    wait_in_page(page, "document.querySelectorAll('.seek .marker').length > 0")
    assert page.locator(".seek .marker").count() == 2
    assert page.locator(".shelf-item").count() == 2
    buy_while_playing(page, "Linen shirt")
    assert errors == []

    orders = httpx.get(f"{live_server.url}/api/v1/orders", headers=buyer.auth).json()["items"]
    assert len(orders) == 1
    order = orders[0]
    assert order["status"] == "WAIT_SELLER_SEND_GOODS"
    assert order["items"][0]["product_id"] == shirt["id"]
    assert order["source"]["video_id"] == video_id and 1 <= order["source"]["second"] <= 12

    # The player reported the way to the purchase, each at its second of the video.
    from sqlalchemy import select

    from vetrina.analytics.models import PlayerEvent

    def reported() -> set[str]:
        with live_server.ctx.db.session() as session:
            return set(session.scalars(select(PlayerEvent.type).where(PlayerEvent.video_id == video_id)))

    wait_for(
        lambda: {"play", "card_shown", "card_clicked", "buy_started", "purchase"} <= reported(),
        timeout_s=15,
        message="the player's events",
    )


def test_hold_then_check_out_at_the_end_after_signing_in_inside_the_drawer(
    live_server,
    make_account,
    media_dir,
    browser,
):
    _merchant, buyer, video_id, shirt, mug = shop_the_look(live_server.url, make_account, media_dir)
    page = browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True)  # a phone
    page.goto(f"{live_server.url}/watch/{video_id}")  # not signed in
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.hls && window.vetrinaShop")
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play(); }")
    page.wait_for_selector('.product-card:has-text("Linen shirt")', timeout=20_000)
    page.click('.product-card:has-text("Linen shirt") .card-hold')
    page.evaluate("() => { document.querySelector('video').currentTime = 9.5; }")
    page.wait_for_selector('.product-card:has-text("Mug")', timeout=20_000)
    page.click('.product-card:has-text("Mug") .card-hold')
    assert page.locator(".held li").count() == 2
    assert page.evaluate("document.querySelector('video').paused") is False

    page.wait_for_selector(".drawer:not([hidden]) .drawer-signin", timeout=20_000)  # the video ended
    assert page.evaluate("document.querySelector('video').ended") is True
    page.fill(".drawer-signin input[name=email]", buyer.user.email)
    page.fill(".drawer-signin input[name=password]", PASSWORD)
    page.click(".drawer-signin button[type=submit]")
    page.click(".drawer-checkout")
    page.wait_for_selector(".drawer-done", timeout=20_000)
    assert page.locator(".held").is_hidden()

    orders = httpx.get(f"{live_server.url}/api/v1/orders", headers=buyer.auth).json()["items"]
    assert len(orders) == 1
    order = orders[0]
    assert order["status"] == "WAIT_SELLER_SEND_GOODS"
    assert sorted(i["product_id"] for i in order["items"]) == sorted([shirt["id"], mug["id"]])
    assert order["source"]["video_id"] == video_id


def test_the_player_works_embedded_in_another_site(live_server, make_account, media_dir, browser):
    _merchant, _buyer, video_id, _shirt, _mug = shop_the_look(live_server.url, make_account, media_dir)
    assert (
        httpx.get(f"{live_server.url}/embed/{video_id}")
        .headers["content-security-policy"]
        .endswith("frame-ancestors *")
    )
    assert (
        httpx.get(f"{live_server.url}/watch/{video_id}")
        .headers["content-security-policy"]
        .endswith("frame-ancestors 'self'")
    )
    # "localhost", not 127.0.0.1: another origin.
    with framing_site("localhost", f"{live_server.url}/embed/{video_id}") as blog:
        page, frame, errors = buy_in_frame(browser, blog)
        # The drawer opens inside the frame, but buying goes on in a top-level window of ours: no sign-in and no pay
        # button in another site's frame, where a hostile page could lead a signed-in viewer into paying.
        link = frame.locator(".drawer:not([hidden]) .drawer-top-level")
        link.wait_for()
        assert link.get_attribute("href") == f"/watch/{video_id}" and link.get_attribute("target") == "_blank"
        assert frame.locator(".drawer-signin, .drawer-pay, .drawer-provider").count() == 0
        inner = page.frames[1]
        assert inner.evaluate("document.querySelector('video').paused") is False
        assert errors == []


def test_a_site_the_merchant_allowed_sells_inside_its_frame(live_server, make_account, media_dir, browser):
    merchant, buyer, video_id, shirt, _mug = shop_the_look(live_server.url, make_account, media_dir)
    shop_port = free_port()
    shop_origin = f"http://127.0.0.2:{shop_port}"  # another site: browsers take each IP address for a site
    handle = httpx.get(f"{live_server.url}/api/v1/me/channel", headers=merchant.auth).json()["handle"]
    allowed = httpx.patch(
        f"{live_server.url}/api/v1/channels/{handle}", headers=merchant.auth, json={"embed_origins": [shop_origin]}
    )
    assert allowed.status_code == 200, allowed.text
    selling = f"{live_server.url}/embed/{video_id}?origin={shop_origin}"
    with framing_site("127.0.0.2", selling, shop_port) as shop, framing_site("127.0.0.3", selling) as hostile:
        page, frame, errors = buy_in_frame(browser, shop)
        frame.locator(".drawer-signin input[name=email]").fill(buyer.user.email)
        frame.locator(".drawer-signin input[name=password]").fill(PASSWORD)
        frame.locator(".drawer-signin button[type=submit]").click()
        frame.locator(".drawer-pay").click()
        frame.locator(".drawer-done").wait_for(timeout=20_000)
        assert page.frames[1].evaluate("document.querySelector('video').paused") is False
        assert errors == []
        (order,) = httpx.get(f"{live_server.url}/api/v1/orders", headers=buyer.auth).json()["items"]
        assert order["status"] == "WAIT_SELLER_SEND_GOODS" and order["items"][0]["product_id"] == shirt["id"]
        assert order["source"]["video_id"] == video_id

        # Another site framing the selling player gets nothing: the browser refuses to show it there.
        other = browser.new_page()
        other.goto(hostile)
        other.wait_for_timeout(1500)
        assert other.frame_locator("iframe").locator(".watch").count() == 0


def test_the_drawers_alipay_qr_payment_completes_while_the_video_keeps_playing(
    alipay_live, make_account, media_dir, browser
):
    _merchant, buyer, video_id, shirt, _mug = shop_the_look(alipay_live.url, make_account, media_dir, "CNY")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    watch_signed_in(page, alipay_live.url, buyer, video_id)
    page.evaluate("""() => {
        const v = document.querySelector('video'); v.muted = true; v.loop = true; v.play();
        window.samples = []; window.sampler = setInterval(() => window.samples.push([v.paused, v.currentTime]), 100);
    }""")
    page.wait_for_selector('.product-card:has-text("Linen shirt")', timeout=20_000)
    page.click('.product-card:has-text("Linen shirt") .card-buy')
    page.click('.drawer:not([hidden]) .drawer-provider[data-provider="alipay"]')
    wait_in_page(page, "() => { const i = document.querySelector('.drawer-qr'); return i && i.naturalWidth > 0; }")
    (out_trade_no,) = alipay_live.fake.trades  # the precreate call opened one trade
    assert alipay_live.fake.trades[out_trade_no].total_amount == "59.00"
    page.wait_for_timeout(1000)  # the buyer takes out a phone...
    answer = httpx.post(
        f"{alipay_live.url}/api/v1/providers/alipay/notify",
        content=alipay_live.fake.notification(out_trade_no),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.text == "success"
    page.wait_for_selector(".drawer-done", timeout=20_000)
    samples = page.evaluate("() => { clearInterval(window.sampler); return window.samples; }")
    assert errors == []
    started = next(i for i, (_, t) in enumerate(samples) if t > 0)
    assert not any(paused for paused, _ in samples[started:]), "the video paused during the QR payment"
    (order,) = httpx.get(f"{alipay_live.url}/api/v1/orders", headers=buyer.auth).json()["items"]
    assert order["status"] == "WAIT_SELLER_SEND_GOODS" and order["items"][0]["product_id"] == shirt["id"]


def test_with_no_provider_the_top_up_and_provider_buttons_are_gone(unfunded_live, make_account, browser):
    buyer = make_account(Role.viewer)
    page = browser.new_page()
    sign_in_page(page, unfunded_live, buyer, "/wallet")
    assert page.locator('form[action="/wallet/topups"]').count() == 0
    assert page.locator('[data-testid="no-funding"]').is_visible()
    assert page.locator('[data-testid="sandbox-banner"]').count() == 0
