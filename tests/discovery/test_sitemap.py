"""The video sitemap, parsed with lxml: published titles at their watch pages with Google's video fields,
territory restrictions from the licences, nothing private, each page cached until a video changes; and
/robots.txt naming it; both varying by Host while no public origin is configured."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from tests.discovery.helpers import licence, video_row
from tests.web.helpers import app_with, assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.context import Topic
from vetrina.discovery import sitemap

NS = {"s": sitemap.SITEMAP_NS, "video": sitemap.VIDEO_NS}


def entries(body: bytes) -> dict[str, etree._Element]:
    """The sitemap's <url> elements by their <loc>."""
    root = etree.fromstring(body)
    assert root.tag == f"{{{sitemap.SITEMAP_NS}}}urlset"
    return {url.findtext("s:loc", namespaces=NS): url for url in root.findall("s:url", NS)}


def test_the_sitemap_lists_published_titles_with_their_territories(live_server, site, make_account):
    ctx, base = live_server.ctx, live_server.url
    studio = make_account(Role.partner)
    public = video_row(ctx, studio.user.id, title="Fish & <Chips>", description="", duration_s=90.4)
    europe = video_row(ctx, studio.user.id, title="Harbour Lights")
    licence(site, studio, europe, ["DE", "FR"])
    world_but_china = video_row(ctx, studio.user.id, title="Silk Road")
    licence(site, studio, world_but_china, ["rest of world"], distributor="Globe")
    body = {"video_id": world_but_china, "distributor": "Dragon", "territories": ["CN"], "uses": ["ads"]}
    body |= {"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2090-01-01T00:00:00Z"}
    assert site.post("/api/v1/licences", headers=studio.auth, json=body).status_code == 201
    expired = video_row(ctx, studio.user.id, title="Expired")
    licence(site, studio, expired, ["IT"], starts_at="2020-01-01T00:00:00Z", ends_at="2021-01-01T00:00:00Z")
    private = video_row(ctx, studio.user.id, title="Private", published=False)
    processing = video_row(ctx, studio.user.id, title="Processing", status="processing")

    response = site.get("/sitemap-videos.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.headers["cache-control"] == "public, max-age=300"
    found = entries(response.content)
    assert set(found) == {f"{base}/watch/{v}" for v in (public, europe, world_but_china)}
    for gone in (expired, private, processing):
        assert f"{base}/watch/{gone}" not in found

    first = found[f"{base}/watch/{public}"].find("video:video", NS)
    assert first.findtext("video:title", namespaces=NS) == "Fish & <Chips>"
    assert first.findtext("video:description", namespaces=NS) == "Fish & <Chips>"  # no description: the title
    assert first.findtext("video:thumbnail_loc", namespaces=NS) == f"{base}/watch/{public}/poster.jpg"
    assert first.findtext("video:player_loc", namespaces=NS) == f"{base}/embed/{public}"
    assert first.findtext("video:duration", namespaces=NS) == "90"
    assert datetime.fromisoformat(first.findtext("video:publication_date", namespaces=NS)).tzinfo is not None
    assert first.find("video:restriction", NS) is None

    restriction = found[f"{base}/watch/{europe}"].find("video:video/video:restriction", NS)
    assert (restriction.get("relationship"), restriction.text) == ("allow", "DE FR")
    # China is named by a licence that does not stream there, so the rest-of-world one does not cover it.
    restriction = found[f"{base}/watch/{world_but_china}"].find("video:video/video:restriction", NS)
    assert (restriction.get("relationship"), restriction.text) == ("deny", "CN")


def test_robots_names_the_sitemap(live_server, site):
    response = site.get("/robots.txt")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert f"Sitemap: {live_server.url}/sitemap-videos.xml" in response.text.splitlines()


def test_past_the_cap_the_sitemap_is_an_index_of_pages(live_server, make_account):
    ctx = live_server.ctx
    owner = make_account(Role.merchant)
    ids = [video_row(ctx, owner.user.id, title=f"Film {n}") for n in range(5)]
    now = clock.now()
    with ctx.db.session() as session:
        assert sitemap.page_count(session, per_page=2) == 3
        pages = [[v.id for v in sitemap.sitemap_videos(session, page, now, per_page=2)] for page in (1, 2, 3)]
    assert pages == [ids[0:2], ids[2:4], ids[4:]]
    index = etree.fromstring(sitemap.sitemap_index_xml(3, "https://v.example"))
    assert [loc.text for loc in index.findall("s:sitemap/s:loc", NS)] == [
        f"https://v.example/sitemap-videos.xml?page={n}" for n in (1, 2, 3)
    ]


def test_bad_pages_are_problems(site):
    assert_problem(site.get("/sitemap-videos.xml?page=0"), 422, "invalid-input")
    assert_problem(site.get("/sitemap-videos.xml?page=many"), 422, "invalid-input")
    assert_problem(site.get("/sitemap-videos.xml?page=2"), 404, "not-found")


def test_a_sitemap_page_is_served_from_the_cache_until_a_video_changes(live_server, site, make_account):
    base = live_server.url
    owner = make_account(Role.merchant)
    shown = video_row(live_server.ctx, owner.user.id, title="Shown")
    first = site.get("/sitemap-videos.xml")
    assert set(entries(first.content)) == {f"{base}/watch/{shown}"}

    # Written behind the app's back (no change is announced): the cached page does not read the database again.
    late = video_row(live_server.ctx, owner.user.id, title="Late")
    assert site.get("/sitemap-videos.xml").content == first.content
    # Another origin asked for is another page (its URLs are on that origin), read afresh.
    elsewhere = site.get("/sitemap-videos.xml", headers={"Host": "elsewhere.example"})
    assert set(entries(elsewhere.content)) == {f"http://elsewhere.example/watch/{v}" for v in (shown, late)}

    # A change made through the app drops the cached pages (Topic.video).
    renamed = site.patch(f"/api/v1/videos/{late}", headers=owner.auth, json={"title": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    found = entries(site.get("/sitemap-videos.xml").content)
    assert set(found) == {f"{base}/watch/{v}" for v in (shown, late)}
    assert found[f"{base}/watch/{late}"].findtext("video:video/video:title", namespaces=NS) == "Renamed"


def test_the_sitemap_cache_holds_a_bounded_number_of_pages():
    cache = sitemap.SitemapCache(ttl_s=300, max_entries=2)
    for host in ("a", "b", "c"):
        cache.put((None, f"http://{host}.example"), host.encode())
    assert [cache.fresh((None, f"http://{h}.example")) for h in ("a", "b", "c")] == [None, b"b", b"c"]
    cache.forget(7)
    assert cache.fresh((None, "http://c.example")) is None
    assert sitemap.SitemapCache.topics == {Topic.video, Topic.licences}


def test_host_made_answers_vary_by_host_until_the_origin_is_configured(live_server, site, settings):
    # No VETRINA_BASE_URL: the URLs inside come from the Host header, so a shared cache must key on it.
    for path in ("/robots.txt", "/sitemap-videos.xml"):
        response = site.get(path)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=300"
        assert "host" in response.headers.get("vary", "").lower().replace(" ", "").split(","), path
    with app_with(settings, base_url="https://vetrina.example") as (client, _ctx):
        robots = client.get("/robots.txt", headers={"Host": "evil.example"})
        assert "Sitemap: https://vetrina.example/sitemap-videos.xml" in robots.text.splitlines()
        for response in (robots, client.get("/sitemap-videos.xml")):
            assert response.status_code == 200
            assert response.headers["cache-control"] == "public, max-age=300"
            assert "host" not in response.headers.get("vary", "").lower()
