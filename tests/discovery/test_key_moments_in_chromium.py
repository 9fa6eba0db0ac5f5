"""A key moment's URL, as search engines link it, opens the watch page playing from that moment (Chromium)."""

from __future__ import annotations

import httpx
import pytest

from tests.discovery.helpers import json_ld, of_type
from tests.e2e.helpers import shop_the_look
from tests.helpers import wait_in_page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a real transcode and a browser: once
def test_a_clip_url_starts_the_player_at_its_moment(live_server, make_account, media_dir, browser):
    _merchant, _buyer, video_id, _shirt, mug = shop_the_look(live_server.url, make_account, media_dir)
    page_html = httpx.get(f"{live_server.url}/watch/{video_id}").text
    [video] = of_type(json_ld(page_html, live_server.url), "VideoObject")
    [moment] = [clip for clip in video["hasPart"] if clip["name"] == mug["title"]]
    assert moment["startOffset"] == 9 and moment["url"].endswith(f"/watch/{video_id}?t=9")

    page = browser.new_page()
    page.goto(moment["url"])
    wait_in_page(page, "window.vetrinaPlayer && document.querySelector('video').readyState >= 1")
    wait_in_page(page, "document.querySelector('video').currentTime >= 9")
    assert 9 <= page.evaluate("document.querySelector('video').currentTime") < 12
