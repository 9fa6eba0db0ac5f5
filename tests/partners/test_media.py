"""New titles' media fetched over HTTP from the partner's server and transcoded by the job worker, owned by the
partner; bad media (wrong type, too large, not a video, missing) failing its item alone; and a changed feed
carried through to the videos."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.helpers import make_clip, wait_for
from tests.partners.helpers import create_feed, feed_items, item, mrss, run_feed
from vetrina.accounts.models import Role
from vetrina.media.models import Video
from vetrina.partners import media_fetch, runs
from vetrina.partners import service as partners
from vetrina.partners.models import FeedItem

MEDIA_LIMIT = 400_000


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"fetch_allow_private": True, "ladder_heights": [240], "feed_media_max_bytes": MEDIA_LIMIT}
    )


def videos(ctx) -> dict[int, Video]:
    with ctx.db.session() as session:
        return {v.id: v for v in session.scalars(select(Video))}


def settled(client, partner, feed_id: int) -> dict[str, dict]:
    """The feed's items once no media waits to be fetched and every video made has finished transcoding."""

    def done():
        items = feed_items(client, partner, feed_id)
        if any(i["media_status"] == "pending" and not i["removed"] for i in items.values()):
            return None
        made = [i["video_id"] for i in items.values() if i["video_id"]]
        states = [client.get(f"/api/v1/videos/{v}", headers=partner.auth).json()["status"] for v in made]
        return items if all(s != "processing" for s in states) else None

    return wait_for(done, timeout_s=90, interval_s=0.2, message="media fetched and transcoded")


def test_media_is_fetched_transcoded_and_kept_in_step_with_the_feed(client, make_account, ctx, media_dir, partner_site):
    partner = make_account(Role.partner)
    clip = make_clip(media_dir / "partner-2s.mp4", 2, size="320x240")
    assert clip.stat().st_size < MEDIA_LIMIT
    site = partner_site
    site.put("/media/a.mp4", clip, "video/mp4")
    site.put("/media/b.bin", clip, "application/octet-stream", declare_length=False)
    site.put("/media/page.mp4", b"<html>Sign in to download</html>", "text/html; charset=utf-8")
    site.put("/media/big.mp4", b"\0" * (MEDIA_LIMIT + 1), "video/mp4")
    site.put("/media/big-stream.mp4", b"\0" * (MEDIA_LIMIT * 2), "video/mp4", declare_length=False)
    site.put("/media/junk.mp4", b"\0\1\2\3" * 4096, "video/mp4")
    v1 = [
        item(
            "a",
            "Film A",
            f"{site.url}/media/a.mp4",
            "<description>About A</description>"
            '<media:restriction relationship="allow" type="country">CN</media:restriction>',
        ),
        item("b", "Film B", f"{site.url}/media/b.bin"),
        item("page", "Login wall", f"{site.url}/media/page.mp4"),
        item("big", "Too big", f"{site.url}/media/big.mp4"),
        item("big-stream", "Too big, undeclared", f"{site.url}/media/big-stream.mp4"),
        item("junk", "Not a film", f"{site.url}/media/junk.mp4"),
        item("gone", "Missing", f"{site.url}/media/gone.mp4"),
    ]
    feed = create_feed(client, partner, site.put("/feed.xml", mrss(*v1)))
    report = run_feed(client, partner, feed["id"], fetch_media=True)
    assert (report["status"], report["created"], report["failed"]) == ("done", 7, 0)
    items = settled(client, partner, feed["id"])

    failed = {g: i["media_error"] for g, i in items.items() if i["media_status"] == "failed"}
    assert failed == {
        "page": "The content type is text/html, not video/ or application/octet-stream.",
        "big": f"The file is larger than {MEDIA_LIMIT} bytes.",
        "big-stream": f"The file is larger than {MEDIA_LIMIT} bytes.",
        "junk": failed["junk"],
        "gone": "The server answered 404.",
    }
    assert failed["junk"].startswith("This file is not a readable video")
    assert all(items[g]["video_id"] is None for g in failed)
    made = videos(ctx)
    a, b = made[items["a"]["video_id"]], made[items["b"]["video_id"]]
    assert len(made) == 2 and items["a"]["media_status"] == items["b"]["media_status"] == "done"
    assert [(v.owner_id, v.title, v.status, v.published) for v in (a, b)] == [
        (partner.user.id, "Film A", "ready", True),
        (partner.user.id, "Film B", "ready", True),
    ]
    assert a.description == "About A" and [r["height"] for r in a.renditions] == [240]
    film = client.get(f"/api/v1/videos/{a.id}", headers=partner.auth).json()
    assert film["status"] == "ready" and film["hls_url"]
    [licence] = client.get("/api/v1/licences", headers=partner.auth, params={"video_id": a.id}).json()
    assert (licence["territories"], licence["rest_of_world"]) == (["CN"], False)
    assert client.get("/api/v1/licences", headers=partner.auth, params={"video_id": b.id}).json() == []

    # The same feed again: nothing fetched, nothing made twice.
    fetched = len(site.requests)
    again = run_feed(client, partner, feed["id"], fetch_media=True)
    assert (again["created"], again["updated"], again["unchanged"], again["removed"]) == (0, 0, 7, 0)
    assert len(site.requests) == fetched + 1  # the feed only
    assert set(videos(ctx)) == {a.id, b.id}

    # A changed feed: A retitled, B gone, C new.
    v2 = [v1[0].replace("Film A", "Film A (director's cut)"), *v1[2:], item("c", "Film C", f"{site.url}/media/a.mp4")]
    site.put("/feed.xml", mrss(*v2))
    changed = run_feed(client, partner, feed["id"], fetch_media=True)
    assert (changed["created"], changed["updated"], changed["unchanged"], changed["removed"]) == (1, 1, 5, 1)
    items = settled(client, partner, feed["id"])
    made = videos(ctx)
    assert made[a.id].title == "Film A (director's cut)" and made[a.id].published
    assert items["b"]["removed"] and not made[b.id].published
    assert client.get(f"/api/v1/videos/{b.id}").status_code == 404  # no longer public
    c = made[items["c"]["video_id"]]
    assert (c.owner_id, c.title, c.status, len(made)) == (partner.user.id, "Film C", "ready", 3)

    # B back in the feed: published again, with the video it had.
    site.put("/feed.xml", mrss(*v2, v1[1]))
    back = run_feed(client, partner, feed["id"], fetch_media=True)
    assert (back["created"], back["updated"], back["removed"]) == (0, 1, 0)
    assert videos(ctx)[b.id].published and len(videos(ctx)) == 3
    with ctx.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Video).where(Video.owner_id == partner.user.id)) == 3


def test_two_workers_fetching_the_same_title_make_one_video(ctx, make_account, media_dir, partner_site):
    """Two media jobs of one feed (a scheduled run's and `vetrina import`'s, say) reach the same title at once."""
    partner = make_account(Role.partner)
    partner_site.put("/media/a.mp4", make_clip(media_dir / "partner-2s.mp4", 2, size="320x240"), "video/mp4")
    partner_site.hold("/media/a.mp4", requests=2)
    url = partner_site.put("/feed.xml", mrss(item("a", "Film A", f"{partner_site.url}/media/a.mp4")))
    with ctx.db.session(write=True) as session:
        feed = partners.create_feed(session, partner.user, name="F", source=url, allow_private=True)
        run_id, feed_id = runs.start_run(ctx, session, feed, "api", fetch_media=False, for_worker=False).id, feed.id
    assert runs.run_import(ctx, run_id).created == 1
    made: list[int] = []
    workers = [threading.Thread(target=lambda: made.append(media_fetch.fetch_media(ctx, feed_id))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(made) == [0, 1] and partner_site.requests.count("/media/a.mp4") == 2
    with ctx.db.session() as session:
        [video] = session.scalars(select(Video)).all()
        [title] = session.scalars(select(FeedItem).where(FeedItem.feed_id == feed_id)).all()
        assert (title.video_id, title.media_status, title.media_error) == (video.id, "done", None)
    assert list((ctx.store.root / ".work").iterdir()) == []  # each fetch worked in, and removed, its own
