"""Third-party VAST tags, from a real HTTP server on this machine: wrapper chains resolved with every party's
tracking kept; loops, endless chains, timeouts, oversized and hostile documents, and private addresses refused;
javascript:, data: and vbscript: URLs never served."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.ads.helpers import BILLION_LAUGHS, eur, fund, linear
from tests.helpers import make_clip, wait_for
from vetrina.accounts.models import Role
from vetrina.ads.fetch import NO_ADS_AFTER_WRAPPER, WRAPPER_LIMIT, WRAPPER_TIMEOUT, XML_ERROR, resolve, wrapper_for
from vetrina.ads.vast import Ad, Creative, Linear, MediaFile, Tracking, Vast, read_vast, write_vast


def _wrapper(target: str, name: str) -> bytes:
    return (
        f'<VAST version="4.2"><Ad id="{name}"><Wrapper><AdSystem>{name}</AdSystem>'
        f"<Impression>https://{name}.example/imp</Impression><Error>https://{name}.example/err</Error>"
        f'<Creatives><Creative><Linear><TrackingEvents><Tracking event="start">https://{name}.example/start'
        f"</Tracking></TrackingEvents></Linear></Creative></Creatives>"
        f"<VASTAdTagURI><![CDATA[{target}]]></VASTAdTagURI></Wrapper></Ad></VAST>"
    ).encode()


HOSTILE_URLS = [
    "javascript:alert(document.cookie)",
    "  JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",  # browsers drop the tab and run the rest
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
]


def _hostile_inline(bad: str) -> bytes:
    """An InLine ad whose click-through is `bad`, and whose every other URL element comes twice: a good https
    URL (`https://good.example/<what>`) and `bad`."""

    def twice(tag: str, what: str, attributes: str = "") -> str:
        return f"<{tag}{attributes}>https://good.example/{what}</{tag}><{tag}{attributes}><![CDATA[{bad}]]></{tag}>"

    media = ' type="video/mp4" width="640" height="360" delivery="progressive"'
    start, view, png = ' event="start"', ' event="creativeView"', ' creativeType="image/png"'
    return (
        '<VAST version="4.2"><Ad id="h"><InLine><AdSystem>hostile</AdSystem><AdTitle>Hi</AdTitle>'
        f"{twice('Impression', 'imp')}{twice('Error', 'err')}<Creatives><Creative><Linear>"
        f"<Duration>00:00:05</Duration><TrackingEvents>{twice('Tracking', 'start', start)}</TrackingEvents>"
        f"<MediaFiles>{twice('MediaFile', 'ad.mp4', media)}</MediaFiles><VideoClicks>"
        f"<ClickThrough><![CDATA[{bad}]]></ClickThrough>{twice('ClickTracking', 'click')}</VideoClicks></Linear>"
        '</Creative><Creative><NonLinearAds><NonLinear width="300" height="50">'
        f"{twice('StaticResource', 'card.png', png)}"
        f"<NonLinearClickThrough><![CDATA[{bad}]]></NonLinearClickThrough>{twice('NonLinearClickTracking', 'nl')}"
        f"</NonLinear><TrackingEvents>{twice('Tracking', 'view', view)}</TrackingEvents>"
        "</NonLinearAds></Creative></Creatives></InLine></Ad></VAST>"
    ).encode()


def _hostile_wrapper(target: str, bad: str) -> bytes:
    """A wrapper whose impression, tracking and click tracking are `bad` beside good ones."""
    return (
        f'<VAST version="4.2"><Ad><Wrapper><AdSystem>w</AdSystem><Impression>https://good.example/w-imp</Impression>'
        f"<Impression><![CDATA[{bad}]]></Impression><Creatives><Creative><Linear><TrackingEvents>"
        f'<Tracking event="start"><![CDATA[{bad}]]></Tracking></TrackingEvents><VideoClicks>'
        f"<ClickTracking><![CDATA[{bad}]]></ClickTracking></VideoClicks></Linear></Creative></Creatives>"
        f"<VASTAdTagURI><![CDATA[{target}]]></VASTAdTagURI></Wrapper></Ad></VAST>"
    ).encode()


@pytest.fixture(scope="module")
def ad_server(iab_inline_tag) -> Iterator[str]:
    """A third-party ad server: answers by path; its inline ad is the IAB's VAST 4.2 inline linear sample."""
    base = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path, url = self.path, base["url"]
            if path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/inline.xml")
                self.end_headers()
                return
            if path == "/slow.xml":
                time.sleep(1.5)
            bodies = {
                "/inline.xml": iab_inline_tag,
                "/wrap1.xml": _wrapper(f"{url}/inline.xml", "agency"),
                "/wrap2.xml": _wrapper(f"{url}/wrap1.xml", "network"),
                "/loop-a.xml": _wrapper(f"{url}/loop-b.xml", "a"),
                "/loop-b.xml": _wrapper(f"{url}/loop-a.xml", "b"),
                "/empty.xml": b'<VAST version="4.2"><Error>https://x.example/none</Error></VAST>',
                "/bomb.xml": BILLION_LAUGHS,
                "/big.xml": b"<VAST>" + b" " * (2 * 1024 * 1024) + b"</VAST>",
                "/slow.xml": iab_inline_tag,
            }
            hostile = re.fullmatch(r"/hostile(-wrap)?-(\d+)\.xml", path)
            if hostile:
                bad = HOSTILE_URLS[int(hostile.group(2))]
                inline = _hostile_inline(bad)
                bodies[path] = (
                    _hostile_wrapper(f"{url}/hostile-{hostile.group(2)}.xml", bad) if hostile.group(1) else inline
                )
            match = re.fullmatch(r"/deep-(\d+)\.xml", path)
            if match:
                bodies[path] = _wrapper(f"{url}/deep-{int(match.group(1)) + 1}.xml", f"d{match.group(1)}")
            body = bodies.get(path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/xml")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base["url"]
    server.shutdown()


def ours(url: str):
    ad = wrapper_for(url)
    ad.impressions.append("https://vetrina.example/imp")
    ad.creatives[0].linear.tracking.append(read_vast(_wrapper("x", "v")).ads[0].creatives[0].linear.tracking[0])
    return ad


def test_a_wrapper_chain_resolves_to_the_inline_ad_with_everyones_tracking(ad_server):
    resolution = resolve(ours(f"{ad_server}/wrap2.xml"), allow_private=True)
    ad = resolution.ad
    assert resolution.error_code is None and ad.wrapper_url is None and ad.creatives[0].linear.media_files
    assert ad.impressions[:3] == [
        "https://vetrina.example/imp",
        "https://network.example/imp",
        "https://agency.example/imp",
    ]
    starts = [t.url for t in ad.creatives[0].linear.tracking if t.event == "start"]
    assert starts[:3] == ["https://v.example/start", "https://network.example/start", "https://agency.example/start"]
    assert resolve(ours(f"{ad_server}/redirect"), allow_private=True).ad is not None


def _urls_of(ad) -> list[str]:
    """Every URL a player would fetch or open in `ad`."""
    urls = [*ad.impressions, *ad.errors]
    for creative in ad.creatives:
        if creative.linear:
            urls += [m.url for m in creative.linear.media_files] + [t.url for t in creative.linear.tracking]
            urls += [creative.linear.click_through or "", *creative.linear.click_tracking]
        for item in creative.non_linears:
            urls += [r.content for r in item.resources] + [item.click_through or "", *item.click_tracking]
        urls += [t.url for t in creative.non_linear_tracking]
    return [u for u in urls if u]


@pytest.mark.parametrize("index", range(len(HOSTILE_URLS)), ids=lambda i: HOSTILE_URLS[i].strip()[:12])
def test_only_http_urls_of_a_third_party_chain_are_kept(ad_server, index, caplog):
    resolution = resolve(ours(f"{ad_server}/hostile-wrap-{index}.xml"), allow_private=True)
    ad = resolution.ad
    assert resolution.error_code is None and ad is not None
    urls = _urls_of(ad)
    assert all(u.startswith("https://") for u in urls), urls
    linear, overlay = ad.creatives[0].linear, ad.creatives[1].non_linears[0]
    assert linear.click_through is None and overlay.click_through is None
    assert ad.impressions == ["https://vetrina.example/imp", "https://good.example/w-imp", "https://good.example/imp"]
    assert [m.url for m in linear.media_files] == ["https://good.example/ad.mp4"]
    assert linear.click_tracking == ["https://good.example/click"]
    assert [t.url for t in linear.tracking if t.event == "start"][1:] == ["https://good.example/start"]
    assert [r.content for r in overlay.resources] == ["https://good.example/card.png"]
    assert overlay.click_tracking == ["https://good.example/nl"]
    assert [t.url for t in ad.creatives[1].non_linear_tracking] == ["https://good.example/view"]
    assert "non-http(s) URLs dropped" in caplog.text  # the operator can see which tag sent them


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/loop-a.xml", WRAPPER_LIMIT),
        ("/deep-1.xml", WRAPPER_LIMIT),
        ("/empty.xml", NO_ADS_AFTER_WRAPPER),
        ("/bomb.xml", XML_ERROR),
        ("/big.xml", WRAPPER_TIMEOUT),
        ("/missing.xml", WRAPPER_TIMEOUT),
        ("/slow.xml", WRAPPER_TIMEOUT),
    ],
)
def test_broken_or_hostile_chains_end_with_the_vast_error_code(ad_server, path, code):
    started = time.monotonic()
    resolution = resolve(ours(f"{ad_server}{path}"), allow_private=True, timeout_s=0.5)
    assert resolution.ad is None and resolution.error_code == code
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/vast.xml",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/vast.xml",
        "http://[::1]/vast.xml",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
    ],
)
def test_private_loopback_link_local_and_non_http_addresses_are_never_fetched(url):
    resolution = resolve(ours(url), allow_private=False, timeout_s=0.5)
    assert resolution.ad is None and resolution.error_code == WRAPPER_TIMEOUT


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"ladder_heights": [240], "fetch_allow_private": True})


def test_a_third_party_campaign_is_served_resolved_with_vetrinas_tracking(
    client, make_account, ctx, media_dir, ad_server, assert_valid_vast
):
    publisher, advertiser = make_account(Role.merchant), make_account(Role.merchant)
    clip = make_clip(media_dir / "ads-6s.mp4", 6, size="320x240")
    with clip.open("rb") as handle:
        film = client.post(
            "/api/v1/videos", headers=publisher.auth, data={"title": "Film"}, files={"file": ("c.mp4", handle)}
        ).json()["id"]
    wait_for(lambda: client.get(f"/api/v1/videos/{film}").json()["status"] == "ready", timeout_s=60, message="film")
    fund(ctx, advertiser)
    body = {**linear(None, bid=900), "vast_url": f"{ad_server}/wrap1.xml", "budget_total": eur(10_000)}
    created = client.post("/api/v1/campaigns", headers=advertiser.auth, json=body)
    assert created.status_code == 201, created.text
    client.patch(f"/api/v1/campaigns/{created.json()['id']}", headers=advertiser.auth, json={"status": "active"})
    answer = client.get("/api/v1/ads/vast", params={"video_id": film})
    assert_valid_vast(answer.content)
    [ad] = read_vast(answer.content).ads
    assert ad.id == str(created.json()["id"]) and ad.creatives[0].linear.media_files
    ours_first = ad.impressions[0]
    assert "/api/v1/ads/events/" in ours_first and "https://agency.example/imp" in ad.impressions
    assert client.get(re.sub(r"^https?://[^/]+", "", ours_first)).status_code == 204
    from vetrina.ads.models import Campaign

    with ctx.db.session() as session:
        assert session.get(Campaign, created.json()["id"]).spent_millis == 450  # alone: half its 9.00 CPM


def test_a_third_party_campaign_serves_only_http_urls(
    client, make_account, ctx, media_dir, ad_server, assert_valid_vast
):
    publisher, advertiser = make_account(Role.merchant), make_account(Role.merchant)
    clip = make_clip(media_dir / "ads-6s.mp4", 6, size="320x240")
    with clip.open("rb") as handle:
        film = client.post(
            "/api/v1/videos", headers=publisher.auth, data={"title": "Film"}, files={"file": ("c.mp4", handle)}
        ).json()["id"]
    wait_for(lambda: client.get(f"/api/v1/videos/{film}").json()["status"] == "ready", timeout_s=60, message="film")
    fund(ctx, advertiser)
    body = {**linear(None, bid=900), "vast_url": f"{ad_server}/hostile-wrap-0.xml", "budget_total": eur(10_000)}
    created = client.post("/api/v1/campaigns", headers=advertiser.auth, json=body)
    client.patch(f"/api/v1/campaigns/{created.json()['id']}", headers=advertiser.auth, json={"status": "active"})
    answer = client.get("/api/v1/ads/vast", params={"video_id": film})
    assert_valid_vast(answer.content)
    assert b"javascript" not in answer.content.lower() and b"https://good.example/ad.mp4" in answer.content
    [ad] = read_vast(answer.content).ads
    assert all(url.startswith(("http://", "https://")) for url in _urls_of(ad)), _urls_of(ad)


@pytest.mark.parametrize("bad", HOSTILE_URLS, ids=lambda u: u.strip()[:12])
def test_the_vast_writer_never_writes_a_url_that_is_not_http(bad, assert_valid_vast):
    linear_ad = Linear(
        5.0,
        media_files=[
            MediaFile(bad, "video/mp4", 640, 360),
            MediaFile("https://v.example/a.mp4", "video/mp4", 640, 360),
        ],
        tracking=[Tracking("start", bad)],
        click_through=bad,
        click_tracking=[bad, "https://v.example/click"],
    )
    ad = Ad(id="1", impressions=[bad, "https://v.example/imp"], errors=[bad], creatives=[Creative(linear=linear_ad)])
    for document in (Vast(ads=[ad]), Vast(errors=[bad])):
        written = write_vast(document)
        assert_valid_vast(written)
        assert bad.strip().encode() not in written and b"script:" not in written.lower() and b"data:" not in written
    [read] = read_vast(write_vast(Vast(ads=[ad]))).ads
    assert _urls_of(read) == ["https://v.example/imp", "https://v.example/a.mp4", "https://v.example/click"]
