"""Who may do what with feeds, and what is refused: private addresses (for feeds and for media), other people's
feeds, a second run while one is on, bad request bodies; and media:restriction turned into licences."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.helpers import make_clip
from tests.partners.helpers import create_feed, feed_items, item, mrss
from tests.web.helpers import assert_problem
from vetrina.accounts.models import Role
from vetrina.errors import Conflict
from vetrina.geo import TERRITORIES
from vetrina.media.models import Video
from vetrina.partners import media_fetch, runs
from vetrina.partners import service as partners
from vetrina.partners.models import FeedRun, PartnerFeed
from vetrina.web.app import create_app

FEEDS = "/api/v1/partners/feeds"


@pytest.fixture
def api(ctx) -> Iterator[TestClient]:
    """The app without its job workers: runs stay queued, transcodes wait, nothing moves unless a test says so."""
    with TestClient(create_app(ctx, run_worker=False)) as test_client:
        yield test_client


REFUSED_FEED_URLS = [
    "http://127.0.0.1:8080/feed.xml",
    "http://localhost/feed.xml",
    "http://10.1.2.3/feed.xml",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/feed.xml",
    "http://192.168.0.10/feed.csv",
    "file:///etc/passwd",
    "/etc/passwd",
    "ftp://partner.example/feed.xml",
    "http://user:pw@partner.example/f.xml",
    "http://partner.invalid/feed.xml",
]


def test_a_feed_on_a_private_address_or_not_over_http_is_refused(api, make_account, ctx):
    partner = make_account(Role.partner)
    for url in REFUSED_FEED_URLS:
        response = api.post(FEEDS, headers=partner.auth, json={"name": "Mine", "url": url})
        assert assert_problem(response, 422, "invalid-input")["field"] == "url", url
    with ctx.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PartnerFeed)) == 0


def test_only_partners_merchants_and_admins_keep_feeds_and_each_sees_only_their_own(api, make_account, ctx):
    feed_url = "https://93.184.215.14/catalogue.xml"  # a public address (nothing is fetched in this test)
    viewer, mine, theirs, admin = (
        make_account(Role.viewer),
        make_account(Role.partner),
        make_account(Role.partner),
        make_account(Role.admin),
    )
    assert_problem(api.post(FEEDS, headers=viewer.auth, json={"name": "V", "url": feed_url}), 403, "forbidden")
    assert_problem(api.post(FEEDS, json={"name": "Anon", "url": feed_url}), 401, "not-authenticated")
    feed = create_feed(api, mine, feed_url)
    assert (feed["name"], feed["url"], feed["format"], feed["rerun_hours"]) == ("Catalogue", feed_url, "auto", None)
    other = create_feed(api, theirs, feed_url)  # the same source is another partner's own feed
    assert other["id"] != feed["id"]

    for path in (f"{FEEDS}/{feed['id']}", f"{FEEDS}/{feed['id']}/runs", f"{FEEDS}/{feed['id']}/items"):
        assert_problem(api.get(path, headers=theirs.auth), 404, "not-found")
        assert_problem(api.get(path, headers=viewer.auth), 404, "not-found")
        assert api.get(path, headers=mine.auth).status_code == 200
        assert api.get(path, headers=admin.auth).status_code == 200
    assert_problem(api.post(f"{FEEDS}/{feed['id']}/runs", headers=theirs.auth), 404, "not-found")
    assert [f["id"] for f in api.get(FEEDS, headers=mine.auth).json()] == [feed["id"]]
    assert [f["id"] for f in api.get(FEEDS, headers=theirs.auth).json()] == [other["id"]]
    assert {f["id"] for f in api.get(FEEDS, headers=admin.auth).json()} == {feed["id"], other["id"]}

    run = api.post(f"{FEEDS}/{feed['id']}/runs", headers=mine.auth)
    assert run.status_code == 202 and run.json()["status"] == "queued" and run.json()["done"] == 0
    assert_problem(api.get(f"{FEEDS}/{other['id']}/runs/{run.json()['run_id']}", headers=theirs.auth), 404, "not-found")
    assert_problem(api.get(f"{FEEDS}/{feed['id']}/runs/{run.json()['run_id']}", headers=theirs.auth), 404, "not-found")
    again = assert_problem(api.post(f"{FEEDS}/{feed['id']}/runs", headers=mine.auth), 409, "conflict")
    assert again["run_id"] == run.json()["run_id"]
    with ctx.db.session(write=True) as session:  # a worker has it now: still one at a time
        session.get(FeedRun, run.json()["run_id"]).status = "running"
    assert_problem(api.post(f"{FEEDS}/{feed['id']}/runs", headers=mine.auth), 409, "conflict")
    with ctx.db.session(write=True) as session:
        session.get(FeedRun, run.json()["run_id"]).status = "done"
    assert api.post(f"{FEEDS}/{feed['id']}/runs", headers=mine.auth, json={"fetch_media": False}).status_code == 202


def test_two_runs_asked_for_at_the_same_moment_make_one(ctx, make_account):
    """The second request arrives while the first has not committed: it must wait for it and get a 409."""
    partner = make_account(Role.partner)
    with ctx.db.session(write=True) as session:
        feed_id = partners.create_feed(session, partner.user, name="F", source="https://93.184.215.14/f.xml").id
    outcome: dict[str, object] = {}

    def second_request() -> None:
        try:
            with ctx.db.session(write=True) as session:
                outcome["second"] = runs.start_run(
                    ctx, session, session.get(PartnerFeed, feed_id), "api", for_worker=False
                ).id
        except Conflict as exc:
            outcome["second"] = exc

    with ctx.db.session(write=True) as session:
        first = runs.start_run(ctx, session, session.get(PartnerFeed, feed_id), "api", for_worker=False).id
        racer = threading.Thread(target=second_request)
        racer.start()
        racer.join(timeout=0.5)  # it waits for this transaction (or, unguarded, commits a run of its own)
    racer.join(timeout=20)
    assert isinstance(outcome["second"], Conflict) and outcome["second"].extra["run_id"] == first
    with ctx.db.session() as session:
        assert session.scalar(select(func.count()).select_from(FeedRun)) == 1


BAD_BODIES = [
    (FEEDS, {"name": "N"}, "url"),
    (FEEDS, {"url": "https://93.184.215.14/f.xml"}, "name"),
    (FEEDS, {"name": 7, "url": "https://93.184.215.14/f.xml"}, "name"),
    (FEEDS, {"name": "N", "url": ["https://93.184.215.14/f.xml"]}, "url"),
    (FEEDS, {"name": "", "url": "https://93.184.215.14/f.xml"}, "name"),
    (FEEDS, {"name": "N" * 201, "url": "https://93.184.215.14/f.xml"}, "name"),
    (FEEDS, {"name": "N", "url": "https://93.184.215.14/" + "f" * 2000}, "url"),
    (FEEDS, {"name": "N", "url": "https://93.184.215.14/f.xml", "format": "atom"}, "format"),
    (FEEDS, {"name": "N", "url": "https://93.184.215.14/f.xml", "rerun_hours": 0.5}, "rerun_hours"),
    (FEEDS, {"name": "N", "url": "https://93.184.215.14/f.xml", "rerun_hours": 24 * 91}, "rerun_hours"),
    (FEEDS, {"name": "N", "url": "https://93.184.215.14/f.xml", "rerun_hours": "daily"}, "rerun_hours"),
    (FEEDS, {"name": "N", "url": "https://93.184.215.14/f.xml", "partner_id": 1}, "partner_id"),
    (FEEDS, ["N", "https://93.184.215.14/f.xml"], "body"),
    ("runs", {"fetch_media": "perhaps"}, "fetch_media"),
    ("runs", {"fetch_media": False, "priority": "high"}, "priority"),
]


def test_bad_bodies_are_422_problems_naming_the_field(api, make_account, ctx):
    partner = make_account(Role.partner)
    runs = f"{FEEDS}/{create_feed(api, partner, 'https://93.184.215.14/f.xml')['id']}/runs"
    for path, body, field in BAD_BODIES:
        problem = assert_problem(
            api.post(runs if path == "runs" else path, headers=partner.auth, json=body), 422, "invalid-input"
        )
        assert field in [e["field"] for e in problem["errors"]], (body, problem)
    with ctx.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PartnerFeed)) == 1
        assert session.scalar(select(func.count()).select_from(FeedRun)) == 0


def test_bad_paths_and_pages_are_problems_too(api, make_account):
    partner = make_account(Role.partner)
    feed = create_feed(api, partner, "https://93.184.215.14/f.xml")
    assert_problem(api.get(f"{FEEDS}/0", headers=partner.auth), 422, "invalid-input")
    assert_problem(api.get(f"{FEEDS}/{2**40}", headers=partner.auth), 422, "invalid-input")
    assert_problem(api.get(f"{FEEDS}/{feed['id']}/runs/999", headers=partner.auth), 404, "not-found")
    assert_problem(
        api.get(f"{FEEDS}/{feed['id']}/items", headers=partner.auth, params={"per_page": 201}), 422, "invalid-input"
    )
    huge = api.post(FEEDS, headers=partner.auth, json={"name": "N" * 2_000_000, "url": "https://93.184.215.14/g"})
    assert_problem(huge, 413, "content-too-large")


# Media on private addresses, and restrictions as licences (a feed on this machine, as `vetrina import` reads it)


def test_media_on_private_addresses_is_refused_and_restrictions_become_licences(
    api, ctx, make_account, media_dir, partner_site, tmp_path
):
    assert ctx.settings.fetch_allow_private is False
    partner = make_account(Role.partner)
    folder = tmp_path / "delivery"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(make_clip(media_dir / "partner-2s.mp4", 2, size="320x240").read_bytes())
    (tmp_path / "outside.mp4").write_bytes(b"not yours")
    partner_site.put("/clip.mp4", folder / "clip.mp4", "video/mp4")

    def restricted(relationship: str, countries: str) -> str:
        return f'<media:restriction relationship="{relationship}" type="country">{countries}</media:restriction>'

    (folder / "feed.xml").write_bytes(
        mrss(
            item("loopback", "Loopback", f"{partner_site.url}/clip.mp4"),
            item("metadata", "Cloud metadata", "http://169.254.169.254/latest/meta-data/clip.mp4"),
            item("intranet", "Intranet", "http://10.0.0.1/clip.mp4"),
            item("allow-cn", "China only", "clip.mp4", restricted("allow", "CN HK")),
            item("deny-cn", "Not in China", "file:clip.mp4", restricted("deny", "CN")),
            item("allow-none", "Nowhere", "./clip.mp4", restricted("allow", "none")),
            item("deny-none", "Everywhere", "clip.mp4", restricted("deny", "none")),
            item("escape", "Outside", "../outside.mp4"),
            item("absolute", "Absolute", "/etc/passwd"),
        )
    )
    with ctx.db.session(write=True) as session:
        feed = partners.create_feed(session, partner.user, name="Drop", source=str(folder / "feed.xml"), local_ok=True)
        run_id = runs.start_run(ctx, session, feed, "cli", fetch_media=False, for_worker=False).id
        feed_id = feed.id
    report = runs.run_import(ctx, run_id)
    assert (report.status, report.created, report.failed) == ("done", 7, 2)
    with ctx.db.session() as session:
        reasons = {f.guid: f.reason for f in runs.failures(session, report)}
    assert reasons == {
        "escape": "a local media file must exist inside the feed's own folder",
        "absolute": "a local media file must exist inside the feed's own folder",
    }

    assert media_fetch.pending_media(ctx, feed_id) == 7
    assert media_fetch.fetch_media(ctx, feed_id) == 4
    assert partner_site.requests == []  # refused before any connection
    items = feed_items(api, partner, feed_id)
    for guid, address in (("loopback", "127.0.0.1"), ("metadata", "169.254.169.254"), ("intranet", "10.0.0.1")):
        assert items[guid]["media_status"] == "failed" and items[guid]["video_id"] is None
        assert items[guid]["media_error"].startswith("The address is refused: ")
        assert f"private or local address ({address})" in items[guid]["media_error"]

    def licences(guid: str) -> list[dict]:
        response = api.get("/api/v1/licences", headers=partner.auth, params={"video_id": items[guid]["video_id"]})
        assert response.status_code == 200, response.text
        return response.json()

    [china] = licences("allow-cn")
    assert (china["territories"], china["rest_of_world"], china["distributor"]) == (
        ["CN", "HK"],
        False,
        partner.user.email,
    )
    assert sorted(china["uses"]) == ["ads", "commerce", "stream"]
    [rest] = licences("deny-cn")
    assert set(rest["territories"]) == TERRITORIES - {"CN"} and not rest["rest_of_world"]
    assert licences("allow-none") == [] and licences("deny-none") == []
    with ctx.db.session() as session:
        videos = {v.id: v for v in session.scalars(select(Video))}
    made = {g: videos[items[g]["video_id"]] for g in ("allow-cn", "deny-cn", "allow-none", "deny-none")}
    assert {g: (v.owner_id, v.title, v.published) for g, v in made.items()} == {
        "allow-cn": (partner.user.id, "China only", True),
        "deny-cn": (partner.user.id, "Not in China", True),
        "allow-none": (partner.user.id, "Nowhere", False),
        "deny-none": (partner.user.id, "Everywhere", True),
    }
    assert len(videos) == 4 and all(v.status == "processing" for v in videos.values())  # its transcode is queued
    assert media_fetch.pending_media(ctx, feed_id) == 0 and media_fetch.fetch_media(ctx, feed_id) == 0


def test_a_changed_restriction_moves_the_titles_licence_and_a_clash_is_reported(
    api, ctx, make_account, media_dir, tmp_path
):
    partner = make_account(Role.partner)
    folder = tmp_path / "delivery"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(make_clip(media_dir / "partner-2s.mp4", 2, size="320x240").read_bytes())

    def deliver(countries: str) -> FeedRun:
        restriction = f'<media:restriction relationship="allow" type="country">{countries}</media:restriction>'
        (folder / "feed.xml").write_bytes(mrss(item("film", "Film", "clip.mp4", restriction)))
        with ctx.db.session(write=True) as session:
            feed = partners.create_feed(
                session, partner.user, name="Drop", source=str(folder / "feed.xml"), local_ok=True
            )
            run_id, feed_id = runs.start_run(ctx, session, feed, "cli", fetch_media=False, for_worker=False).id, feed.id
        report = runs.run_import(ctx, run_id)
        media_fetch.fetch_media(ctx, feed_id)
        return report

    def licences() -> list[tuple[list[str], bool]]:
        video_id = next(iter(feed_items(api, partner, 1).values()))["video_id"]
        found = api.get("/api/v1/licences", headers=partner.auth, params={"video_id": video_id}).json()
        return sorted((lic["territories"], lic["distributor"] == partner.user.email) for lic in found)

    deliver("CN")
    assert licences() == [(["CN"], True)]
    assert deliver("IT FR").updated == 1
    assert licences() == [(["FR", "IT"], True)]  # the feed's licence follows the feed
    video_id = next(iter(feed_items(api, partner, 1).values()))["video_id"]
    by_hand = api.post(
        "/api/v1/licences",
        headers=partner.auth,
        json={
            "video_id": video_id,
            "distributor": "Dragon Pictures",
            "territories": ["CN"],
            "starts_at": "2020-01-01T00:00:00Z",
            "ends_at": "2100-01-01T00:00:00Z",
        },
    )
    assert by_hand.status_code == 201, by_hand.text
    clash = deliver("CN IT")
    assert (clash.status, clash.updated, clash.failed) == ("done", 0, 1)
    with ctx.db.session() as session:
        [failure] = runs.failures(session, clash)
    assert "media:restriction" in failure.reason and "Dragon Pictures" in failure.reason
    assert licences() == [(["CN"], False), (["FR", "IT"], True)]  # kept as it was
