"""The shoppable widget's list (issue 20, item 6): GET /api/v1/channels/{handle}/videos, over real HTTP. A channel's
published, ready videos that may be listed where the viewer is, readable by any site's script (CORS `*`, no
credentials), paged; an unknown channel is a 404 problem that other sites' scripts can read too."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.helpers import ready_video_row
from tests.web.helpers import assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.media.models import VideoStatus

ITALY, GERMANY = {"CF-IPCountry": "IT"}, {"CF-IPCountry": "DE"}
FOREIGN_PAGE = {"Origin": "http://127.0.0.2:8080"}


def _video(ctx, owner_id: int, title: str, minutes_ago: int, **overrides) -> int:
    with ctx.db.session(write=True) as session:
        video = ready_video_row(
            owner_id, title=title, created_at=clock.now() - timedelta(minutes=minutes_ago), **overrides
        )
        session.add(video)
        session.flush()
        return video.id


def test_a_channel_lists_only_what_may_be_listed_where_the_viewer_is(live_server, make_account):
    ctx = live_server.ctx
    merchant, rival = make_account(Role.merchant), make_account(Role.merchant)
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        handle = http.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"]
        http.get("/api/v1/me/channel", headers=rival.auth)
        newest = _video(ctx, merchant.user.id, "Newest", 1)
        older = _video(ctx, merchant.user.id, "Older", 5)
        german = _video(ctx, merchant.user.id, "Licensed in Germany only", 3)
        _video(ctx, merchant.user.id, "Private", 2, published=False)
        _video(ctx, merchant.user.id, "Still processing", 2, status=VideoStatus.processing.value, output_key=None)
        _video(ctx, rival.user.id, "Another shop's", 2)
        now = clock.now()
        licensed = http.post(
            "/api/v1/licences",
            headers=merchant.auth,
            json={
                "video_id": german,
                "distributor": "Rhein Film",
                "territories": ["DE"],
                "starts_at": (now - timedelta(days=1)).isoformat(),
                "ends_at": (now + timedelta(days=30)).isoformat(),
                "uses": ["stream"],
            },
        )
        assert licensed.status_code == 201, licensed.text

        in_italy = http.get(f"/api/v1/channels/{handle}/videos", headers={**ITALY, **FOREIGN_PAGE})
        assert in_italy.status_code == 200, in_italy.text
        assert in_italy.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in in_italy.headers
        listed = in_italy.json()
        assert [v["id"] for v in listed["items"]] == [newest, older]
        assert listed["total"] == 2
        assert all(v["poster_url"] and v["published"] for v in listed["items"])

        in_germany = http.get(f"/api/v1/channels/{handle.upper()}/videos", headers=GERMANY).json()
        assert [v["id"] for v in in_germany["items"]] == [newest, german, older]

        # The owner signed in sees no more here: the list is the same for every page that asks.
        as_owner = http.get(f"/api/v1/channels/{handle}/videos", headers={**ITALY, **merchant.auth}).json()
        assert [v["id"] for v in as_owner["items"]] == [newest, older]

        second_page = http.get(f"/api/v1/channels/{handle}/videos?page=2&per_page=1", headers=ITALY).json()
        assert [v["id"] for v in second_page["items"]] == [older]
        assert (second_page["total"], second_page["page"], second_page["per_page"]) == (2, 2, 1)


def test_an_unknown_channel_and_bad_paging_are_problems_any_site_can_read(live_server, make_account):
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        handle = http.get("/api/v1/me/channel", headers=make_account(Role.merchant).auth).json()["handle"]
        for unknown in ("no-such-shop", "x" * 300, "%00", "%C3%A9t%C3%A9", "a%20b"):
            missing = http.get(f"/api/v1/channels/{unknown}/videos", headers=FOREIGN_PAGE)
            assert_problem(missing, 404, "not-found")
            assert missing.headers["access-control-allow-origin"] == "*"
        for paging in ("page=0", "per_page=0", "per_page=101", "page=x", "page=100001"):
            refused = http.get(f"/api/v1/channels/{handle}/videos?{paging}", headers=FOREIGN_PAGE)
            assert_problem(refused, 422, "invalid-input")
            assert refused.headers["access-control-allow-origin"] == "*"
        # Only this list is open to other sites' scripts; the channel itself is not.
        assert "access-control-allow-origin" not in http.get(f"/api/v1/channels/{handle}").headers
