"""oEmbed over real HTTP: a watch page's URL becomes the embed player's iframe (sized to the consumer's maximum,
in the video's aspect), JSON or XML; every URL that embeds nothing gets the very same 404; any site's script may
read every answer, problems included."""

from __future__ import annotations

from lxml import etree, html

from tests.discovery.helpers import licence, photographed_product, video_row
from tests.web.helpers import assert_problem
from vetrina.accounts.models import Role
from vetrina.discovery import oembed as oembeds


def test_a_watch_url_embeds_the_player(live_server, site, make_account):
    merchant = make_account(Role.merchant)
    photographed_product(site, merchant)  # a merchant's channel is made on first use: its desk
    channel = site.get("/api/v1/me/channel", headers=merchant.auth).json()
    title = 'Say "hi" <b>&</b>'
    video_id = video_row(live_server.ctx, merchant.user.id, title=title, width=1280, height=720)
    url = f"{live_server.url}/watch/{video_id}"

    response = site.get("/oembed", params={"url": url, "format": "json"})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=300"
    answer = response.json()
    assert (answer["type"], answer["version"], answer["title"]) == ("video", "1.0", title)
    assert (answer["provider_name"], answer["provider_url"]) == ("Vetrina", live_server.url + "/")
    assert answer["author_name"] == channel["name"]
    assert answer["author_url"] == f"{live_server.url}/c/{channel['handle']}"
    assert answer["thumbnail_url"] == f"{url}/poster.jpg"
    assert (answer["thumbnail_width"], answer["thumbnail_height"]) == (1280, 720)
    assert (answer["width"], answer["height"]) == (640, 360)
    [iframe] = html.fragment_fromstring(answer["html"], create_parent=True).findall("iframe")
    assert iframe.get("src") == f"{live_server.url}/embed/{video_id}"
    assert iframe.get("title") == title  # escaped in the markup, whole once parsed
    assert iframe.get("allow") == "autoplay; fullscreen; picture-in-picture"
    assert (iframe.get("width"), iframe.get("height")) == ("640", "360")

    sized = site.get("/oembed", params={"url": url + "?t=12", "maxwidth": 1000, "maxheight": 300}).json()
    assert (sized["width"], sized["height"]) == (533, 300)  # 16:9 within 1000 x 300

    xml = site.get("/oembed", params={"url": url, "format": "xml", "maxwidth": 320})
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(xml.content)
    assert root.tag == "oembed"
    assert (root.findtext("type"), root.findtext("title"), root.findtext("width")) == ("video", title, "320")


def test_the_watch_page_names_its_oembed(live_server, site, make_account):
    merchant = make_account(Role.merchant)
    video_id = video_row(live_server.ctx, merchant.user.id, title="Linked")
    page = html.fromstring(site.get(f"/watch/{video_id}").text)
    [link] = page.xpath('//head/link[@type="application/json+oembed"]')
    assert link.get("title") == "Linked"
    answer = site.get(link.get("href"))
    assert answer.status_code == 200 and answer.json()["html"].count(f"/embed/{video_id}") == 1
    private = video_row(live_server.ctx, merchant.user.id, published=False)
    owner_page = html.fromstring(site.get(f"/watch/{private}", headers=merchant.auth).text)
    assert owner_page.xpath('//link[@type="application/json+oembed"]') == []


def test_private_unknown_unlicensed_and_foreign_urls_are_one_404(live_server, site, make_account):
    base = live_server.url
    studio = make_account(Role.partner)
    private = video_row(live_server.ctx, studio.user.id, published=False)
    processing = video_row(live_server.ctx, studio.user.id, status="processing")
    german = video_row(live_server.ctx, studio.user.id)
    licence(site, studio, german, ["DE"])
    assert site.get("/oembed", params={"url": f"{base}/watch/{german}"}, headers={"CF-IPCountry": "DE"}).is_success

    asked = [
        f"{base}/watch/{private}",
        f"{base}/watch/{processing}",
        f"{base}/watch/{german}",  # asked from France
        f"{base}/watch/999999",
        f"{base}/watch/99999999999",
        f"https://elsewhere.example/watch/{german}",
        f"{base}/p/1",
        f"{base}/watch/{german}/poster.jpg",
        f"ftp://{base.split('://')[1]}/watch/{german}",
        "not a url at all",
    ]
    answers = [site.get("/oembed", params={"url": url}, headers={"CF-IPCountry": "FR"}) for url in asked]
    assert_problem(answers[0], 404, "not-found")
    assert {a.status_code for a in answers} == {404}
    assert {a.content for a in answers} == {answers[0].content}
    assert {a.headers["content-type"] for a in answers} == {answers[0].headers["content-type"]}


def test_bad_oembed_requests_are_problems(live_server, site, make_account):
    owner = make_account(Role.merchant)
    url = f"{live_server.url}/watch/{video_row(live_server.ctx, owner.user.id)}"
    assert_problem(site.get("/oembed"), 422, "invalid-input")
    assert_problem(site.get("/oembed", params={"url": ""}), 422, "invalid-input")
    assert_problem(site.get("/oembed", params={"url": url + "?" + "x" * 3000}), 422, "invalid-input")
    for bad in ("0", "-5", "wide", "100000"):
        assert_problem(site.get("/oembed", params={"url": url, "maxwidth": bad}), 422, "invalid-input")
        assert_problem(site.get("/oembed", params={"url": url, "maxheight": bad}), 422, "invalid-input")
    assert_problem(site.get("/oembed", params={"url": url, "format": "yaml"}), 422, "invalid-input")


def test_any_site_may_read_every_oembed_answer(live_server, site, make_account):
    owner = make_account(Role.merchant)
    url = f"{live_server.url}/watch/{video_row(live_server.ctx, owner.user.id)}"
    other_site = {"Origin": "https://blog.example"}
    asked = [
        {"url": url},
        {"url": url, "format": "xml"},
        {"url": f"{live_server.url}/watch/999999"},
        {"url": url, "maxwidth": 0},
        {},
    ]
    answers = [site.get("/oembed", params=params, headers=other_site) for params in asked]
    assert [a.status_code for a in answers] == [200, 200, 404, 422, 422]
    assert_problem(answers[2], 404, "not-found")
    assert_problem(answers[3], 422, "invalid-input")
    for answer in answers:
        assert answer.headers.get("access-control-allow-origin") == "*", answer.text
        assert "access-control-allow-credentials" not in answer.headers


def test_which_urls_are_our_watch_pages():
    ours = {"vetrina.example", "127.0.0.1:8000"}
    assert oembeds.watched_video_id("https://VETRINA.example/watch/5?t=3#x", ours) == 5
    assert oembeds.watched_video_id("http://127.0.0.1:8000/watch/12/", ours) == 12
    for url in (
        "https://vetrina.example.evil/watch/5",
        "https://user:pw@vetrina.example/watch/5",
        "https://vetrina.example/watch/05",
        "https://vetrina.example/watch/5/tags",
        "https://vetrina.example/watch/2147483648",
        "javascript://vetrina.example/watch/5",
        "//vetrina.example/watch/5",
        "https://[::1/watch/5",
    ):
        assert oembeds.watched_video_id(url, ours) is None, url
    assert oembeds.fit(1080, 1920, None, 400) == (225, 400)  # upright, held by maxheight
    assert oembeds.poster_size(1920, 1080) == (1280, 720)
