"""The studio in real Chromium: a merchant previews a spot, publishes it, and the published spot plays with its
product card on screen."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from tests.helpers import sign_in_page, wait_in_page
from tests.studio.helpers import photo_bytes
from vetrina.accounts.models import Role
from vetrina.money import Money
from vetrina.studio import service as studio
from vetrina.studio.models import Spot

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings):
    small = {"studio_short_side": 360, "ladder_heights": [360, 240], "studio_preview_short_side": 144}
    return settings.model_copy(update=small)


def test_a_merchant_makes_a_spot_in_the_studio_and_it_plays_shoppable(live_server, make_account, browser):
    merchant = make_account(Role.merchant)
    with httpx.Client(base_url=live_server.url, headers=merchant.auth, timeout=30) as http:
        mug = http.post(
            "/api/v1/products",
            json={"title": "Stoneware mug", "price": {"amount": 1800, "currency": "EUR"}, "stock": 5},
        ).json()
        for index, colour in enumerate([(200, 80, 60), (60, 120, 200)]):
            photo = {"file": (f"m{index}.jpg", photo_bytes(colour, seed=index), "image/jpeg")}
            assert http.post(f"/api/v1/products/{mug['id']}/images", files=photo).status_code == 201

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_page(page, live_server.url, merchant, "/studio")
    page.check("input[name=template][value=split]")
    page.check("input[name=duration_s][value='6']")
    page.fill("input[name=headline]", "夏季新品 · Summer mugs")
    page.locator("input[name=line]").first.fill("Fired twice")

    page.click("#preview-button")
    page.wait_for_selector("#preview-video:not([hidden])", timeout=30_000)
    assert page.eval_on_selector("#preview-video", "v => v.src").startswith(f"{live_server.url}/media/")
    wait_in_page(page, "document.querySelector('#preview-video').readyState >= 2", timeout_ms=15_000)

    # The spot's own labels in another language than the page's; no call to action typed: the template's own.
    page.select_option("select[name=language]", "it")
    page.click("#render-button")
    page.wait_for_selector("a.spot-ready", timeout=120_000)
    with live_server.ctx.db.session() as session:
        [spec] = session.scalars(select(Spot.spec)).all()
    assert (spec["language"], spec["price"]) == ("it", Money(1800, "EUR").display("it"))  # 18,00 €
    assert spec["cta"] == studio.DEFAULT_CTA.localised("it")
    page.click("a.spot-ready")
    page.wait_for_url("**/watch/*")
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.hls && window.vetrinaShop")
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_selector('.product-card:has-text("Stoneware mug")', timeout=20_000)
    wait_in_page(page, "document.querySelector('video').currentTime > 1", timeout_ms=20_000)
    assert errors == []

    # Bad input is shown on the page, not swallowed: a template that needs more photos than were ticked.
    page.goto(f"{live_server.url}/studio")
    page.check("input[name=template][value=split]")
    page.locator("input[name=product_image_ids]").first.check()
    page.click("#render-button")
    page.wait_for_selector("#studio-error:not([hidden])")
    assert "image" in page.inner_text("#studio-error")
