"""The embedded player's host page (docs/widget.md): `/embed/{id}?origin=` names the page that frames it, which its
shopping events are posted to. The server checks the origin before the player may use it: one that is no web origin
is dropped (the player still plays, and posts nothing); any well-formed one is where events go (the browser delivers
them only to a page of that origin); only an allowed one may also sell in the frame."""

from __future__ import annotations

import re

import httpx

from tests.helpers import ready_video_row
from tests.widget.helpers import let_sell_in_frames
from vetrina.accounts.models import Role


def _watch_section(page: httpx.Response) -> tuple[str, str]:
    assert page.status_code == 200, page.text
    found = re.search(r'<section class="watch"[^>]*data-sell-in-frame="([^"]*)" data-host-origin="([^"]*)"', page.text)
    assert found, "no player section"
    return found.group(1), found.group(2)


def test_the_host_origin_is_checked_and_selling_needs_the_allowlist(live_server, make_account):
    merchant = make_account(Role.merchant)
    with live_server.ctx.db.session(write=True) as session:
        video = ready_video_row(merchant.user.id)
        session.add(video)
        session.flush()
        video_id = video.id
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        handle = http.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"]
        let_sell_in_frames(http, merchant, handle, ["http://127.0.0.2:8080"])

        def embed(origin: str) -> tuple[str, str]:
            return _watch_section(http.get(f"/embed/{video_id}", params={"origin": origin}))

        assert embed("") == ("", "")
        for not_an_origin in ("javascript:alert(1)", "*", "null", "https://shop.example/path", '"><script>', "x" * 300):
            assert embed(not_an_origin) == ("", ""), not_an_origin
        assert embed("https://Shop.Example:443/") == ("", "https://shop.example")  # events only; no selling
        assert embed("http://127.0.0.2:08080") == ("http://127.0.0.2:8080", "http://127.0.0.2:8080")
        assert http.get(f"/embed/{video_id}", params={"origin": "x" * 301}).status_code == 422
