"""What a video's media playlists carry besides segments, read as a third-party player would: a program date time
from the video's fixed anchor, each product moment as an `EXT-X-DATERANGE` (escaped so the playlist always parses),
the pre-roll and mid-rolls as HLS Interstitials (Apple's rules), the mid-rolls also as SCTE-35; a tag change
re-issues the playlist with a new ETag; and the asset lists the interstitials name."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import m3u8
import pytest
import threefive

from tests.ads.helpers import fund, linear
from tests.commerce.helpers import product
from tests.helpers import make_clip, wait_for
from tests.shoppable.helpers import tag
from tests.web.helpers import assert_problem
from vetrina.accounts.models import Role
from vetrina.ads.interstitials import INTERSTITIAL_CLASS, MAX_BREAK_S, asset_list_of
from vetrina.ads.models import AdEvent
from vetrina.ads.scte35 import TICKS_PER_S
from vetrina.ads.vast import Ad, Creative, Linear, MediaFile, Tracking, Vast
from vetrina.media.models import Video
from vetrina.media.playlists import DateRange, Playlist, Signals, quoted, with_signals
from vetrina.shoppable.moments import PRODUCT_CLASS

HOSTILE_TITLE = 'Shirt "Oxford", 100% linen\nEXT-X-ENDLIST,ID="x" 衬衫 ✓'


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"ladder_heights": [240]})


@pytest.fixture
def film(client, make_account, media_dir):
    """A transcoded 6 s film of a merchant's, with ad breaks: a pre-roll and a mid-roll at 3 s."""
    owner = make_account(Role.merchant)
    clip = make_clip(media_dir / "signals-6s.mp4", 6, size="426x240")
    with clip.open("rb") as handle:
        video_id = client.post(
            "/api/v1/videos", headers=owner.auth, data={"title": "Signals"}, files={"file": ("c.mp4", handle)}
        ).json()["id"]
    wait_for(lambda: client.get(f"/api/v1/videos/{video_id}").json()["status"] == "ready", timeout_s=120)
    settings = client.put(
        f"/api/v1/videos/{video_id}/ad-settings", headers=owner.auth, json={"preroll": True, "midrolls_s": [3.0]}
    )
    assert settings.status_code == 200, settings.text
    return owner, video_id


def media_playlist(client, video_id: int, etag: str | None = None) -> httpx.Response:
    """The first variant's media playlist, fetched as a player would: master, then the relative variant URI."""
    master_url = client.get(f"/api/v1/videos/{video_id}").json()["hls_url"]
    master = m3u8.loads(client.get(master_url).text)
    headers = {"If-None-Match": etag} if etag else {}
    return client.get(urljoin(master_url, master.playlists[0].uri), headers=headers)


def ranges_by_id(text: str) -> dict[str, dict]:
    parsed = m3u8.loads(text)
    found = {}
    for segment in parsed.segments:
        for item in segment.dateranges:
            found[item.id] = item
    return found


def client_attributes(item) -> dict[str, str]:
    """A date range's X- attributes by their names as written (the m3u8 package keeps them as x_snake_case)."""
    return {name.upper().replace("_", "-"): value for name, value in item.x_client_attrs}


def test_product_moments_are_date_ranges_on_the_anchor_and_survive_hostile_titles(client, film, ctx):
    owner, video_id = film
    shirt = product(client, owner, price=5900, stock=3, title=HOSTILE_TITLE)
    assert tag(client, owner, video_id, shirt["id"], 1.5, 4, label="Il suo “look”, primo").status_code == 201

    response = media_playlist(client, video_id)
    assert response.status_code == 200
    text = response.text
    parsed = m3u8.loads(text)
    assert parsed.is_endlist and parsed.segments, "still the whole VOD playlist"
    with ctx.db.session() as session:
        created = session.get(Video, video_id).created_at
    start = parsed.segments[0].current_program_date_time
    assert start == created.replace(microsecond=0), "the program date time starts at the video's fixed anchor"
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == 1 and text.count("#EXT-X-ENDLIST") == 1

    ranges = ranges_by_id(text)
    assert all(r.id and r.start_date for r in ranges.values()), "every date range has an ID and a START-DATE"
    moment = next(r for r in ranges.values() if r.class_ == PRODUCT_CLASS)
    assert datetime.fromisoformat(moment.start_date) == start + timedelta(seconds=1.5)
    assert moment.duration == 2.5
    attributes = client_attributes(moment)
    assert attributes["X-PRODUCT-ID"] == f'"{shirt["id"]}"'
    assert attributes["X-PRICE"] == '"59.00"' and attributes["X-CURRENCY"] == '"EUR"'
    # The quotes became typographic ones and the line break a space: nothing ended the tag or the line early.
    assert attributes["X-TITLE"] == '"Shirt ”Oxford”, 100% linen EXT-X-ENDLIST,ID=”x” 衬衫 ✓"'
    assert attributes["X-LABEL"] == '"Il suo “look”, primo"'
    assert attributes["X-BUY-URL"].startswith('"http://testserver/p/')


def test_interstitials_follow_apples_rules_and_mid_rolls_carry_scte35(client, film):
    _, video_id = film
    text = media_playlist(client, video_id).text
    parsed = m3u8.loads(text)
    anchor = parsed.segments[0].current_program_date_time
    total_s = sum(s.duration for s in parsed.segments)
    ranges = ranges_by_id(text)

    preroll, midroll = ranges["preroll"], ranges["midroll-1"]
    for item in (preroll, midroll):
        assert item.class_ == INTERSTITIAL_CLASS
        extra = client_attributes(item)
        asset_list = urlsplit(extra["X-ASSET-LIST"].strip('"'))
        assert asset_list.path == "/api/v1/ads/interstitials"
        assert parse_qs(asset_list.query) == {"video_id": [str(video_id)], "slot": [item.id]}
        assert "X-ASSET-URI" not in extra, "one of X-ASSET-URI and X-ASSET-LIST, never both"
        assert float(extra["X-RESUME-OFFSET"]) == 0, "the break replaces none of the film"
        assert float(extra["X-PLAYOUT-LIMIT"]) == MAX_BREAK_S
        assert extra["X-RESTRICT"] == '"SKIP,JUMP"'
        start_s = (datetime.fromisoformat(item.start_date) - anchor).total_seconds()
        assert 0 <= start_s < total_s, "every break lies inside the film's dated span"
    assert datetime.fromisoformat(preroll.start_date) == anchor, "a pre-roll starts on the first program date time"
    assert (datetime.fromisoformat(midroll.start_date) - anchor).total_seconds() == 3.0
    # The m3u8 package drops CUE: read it off the lines.
    lines = {
        line.split('ID="', 1)[1].split('"', 1)[0]: line for line in text.splitlines() if "#EXT-X-DATERANGE" in line
    }
    assert 'CUE="PRE"' in lines["preroll"] and "CUE=" not in lines["midroll-1"]

    cue = ranges["midroll-1-scte35"]
    assert datetime.fromisoformat(cue.start_date) == datetime.fromisoformat(midroll.start_date)
    assert cue.planned_duration == 30.0
    out, back = threefive.Cue(cue.scte35_out), threefive.Cue(cue.scte35_in)
    out.decode()
    back.decode()
    assert out.info_section.table_id == "0xfc" and out.command.name == "Splice Insert"
    assert out.command.out_of_network_indicator is True and back.command.out_of_network_indicator is False
    assert out.command.splice_event_id == back.command.splice_event_id == 1
    assert out.command.pts_time == back.command.pts_time == 3.0
    assert out.command.break_duration == 30.0 and out.command.break_auto_return is True
    assert round(out.command.pts_time * TICKS_PER_S) == 3 * TICKS_PER_S


def test_a_tag_change_reissues_the_playlist_under_a_new_etag(client, film):
    owner, video_id = film
    first = media_playlist(client, video_id)
    etag = first.headers["etag"]
    assert media_playlist(client, video_id, etag).status_code == 304
    mug = product(client, owner, price=1800, stock=2)
    created = tag(client, owner, video_id, mug["id"], 2, 5)
    assert created.status_code == 201
    changed = media_playlist(client, video_id, etag)
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert f'"product-{created.json()["id"]}"' in changed.text
    # Not re-encoded: the same segments, in the same order.
    assert [s.uri for s in m3u8.loads(changed.text).segments] == [s.uri for s in m3u8.loads(first.text).segments]


def test_the_master_playlist_is_left_as_the_transcode_wrote_it(client, film):
    _, video_id = film
    master_url = client.get(f"/api/v1/videos/{video_id}").json()["hls_url"]
    text = client.get(master_url).text
    assert "#EXT-X-DATERANGE" not in text and "#EXT-X-PROGRAM-DATE-TIME" not in text


def test_the_asset_list_is_each_viewers_auction(client, film, make_account, media_dir, ctx):
    _, video_id = film
    vast = client.get("/api/v1/ads/vast", params={"video_id": video_id, "slot": "preroll"})
    assert vast.headers["access-control-allow-origin"] == "*", "other sites' players read the VAST too"
    empty = client.get("/api/v1/ads/interstitials", params={"video_id": video_id, "slot": "preroll"})
    assert empty.status_code == 200 and empty.json()["ASSETS"] == []
    assert empty.headers["access-control-allow-origin"] == "*" and empty.headers["cache-control"] == "no-store"

    advertiser = make_account(Role.merchant)
    clip = make_clip(media_dir / "signals-spot-4s.mp4", 4, size="426x240")
    with clip.open("rb") as handle:
        spot = client.post(
            "/api/v1/videos", headers=advertiser.auth, data={"title": "Spot"}, files={"file": ("s.mp4", handle)}
        ).json()["id"]
    wait_for(lambda: client.get(f"/api/v1/videos/{spot}").json()["status"] == "ready", timeout_s=120)
    fund(ctx, advertiser)
    now = datetime.now().astimezone()
    window = {"starts_at": (now - timedelta(days=1)).isoformat(), "ends_at": (now + timedelta(days=3)).isoformat()}
    campaign = client.post("/api/v1/campaigns", headers=advertiser.auth, json=linear(spot, **window)).json()
    started = client.patch(f"/api/v1/campaigns/{campaign['id']}", headers=advertiser.auth, json={"status": "active"})
    assert started.status_code == 200, started.text

    # hls.js adds its own parameters to the asset list's URL; they are read past.
    answer = client.get(
        "/api/v1/ads/interstitials",
        params={"video_id": video_id, "slot": "midroll-1", "_HLS_primary_id": "abc", "_HLS_start_offset": "0"},
    ).json()
    [asset] = answer["ASSETS"]
    assert 3.5 < asset["DURATION"] <= 4.5
    # The asset is ours: fetching it counts the impression (any player does), then it leads to the spot's HLS.
    assert urlsplit(asset["URI"]).path.startswith("/api/v1/ads/assets/")
    for _ in range(2):
        ad_master = client.get(asset["URI"])
        assert ad_master.status_code == 200 and m3u8.loads(ad_master.text).is_variant, "the spot's HLS"
    assert ad_master.history[0].status_code == 302
    assert ad_master.history[0].headers["access-control-allow-origin"] == "*"
    with ctx.db.session() as session:
        counted = session.query(AdEvent).filter_by(campaign_id=campaign["id"], event="impression").count()
    assert counted == 1, "one impression however often the player fetches it"
    assert_problem(client.get(asset["URI"] + "x"), 404, "not-found")
    [tracking] = answer["X-VETRINA-ADS"]
    assert tracking["impressions"] and tracking["decision_id"]
    assert {"start", "firstQuartile", "midpoint", "thirdQuartile", "complete", "skip"} <= set(tracking["events"])


def test_asset_list_bad_input(client, film):
    _, video_id = film
    for slot in ("overlay-1", "midroll-9", "x" * 33):
        answer = client.get("/api/v1/ads/interstitials", params={"video_id": video_id, "slot": slot})
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json", slot
    unknown = client.get("/api/v1/ads/interstitials", params={"video_id": 999_999})
    assert_problem(unknown, 404, "not-found")
    assert unknown.headers["access-control-allow-origin"] == "*", "another site's player may read why, too"
    assert client.get("/api/v1/ads/interstitials", params={"video_id": "x"}).status_code == 422


def _ad(files: list[MediaFile]) -> Vast:
    linear_ad = Linear(9.0, media_files=files, tracking=[Tracking("start", "https://ads.example/start")])
    return Vast(ads=[Ad(id="1", impressions=["https://ads.example/imp"], creatives=[Creative(linear=linear_ad)])])


def test_an_ad_without_hls_goes_back_to_the_players_vast_path():
    mp4 = MediaFile("https://ads.example/spot.mp4", "video/mp4", 640, 360)
    answer = asset_list_of(_ad([mp4]), "https://vetrina.example")
    assert answer["ASSETS"] == []
    assert "https://ads.example/spot.mp4" in answer["X-VETRINA-VAST"] and "<VAST" in answer["X-VETRINA-VAST"]
    hls = MediaFile("https://ads.example/spot.m3u8", "application/x-mpegURL", 640, 360, delivery="streaming")
    both = asset_list_of(_ad([mp4, hls]), "https://vetrina.example")
    assert both["ASSETS"] == [{"URI": "https://ads.example/spot.m3u8", "DURATION": 9.0}], "a third party's, as is"
    hostile = MediaFile("javascript:alert(1)", "application/x-mpegURL", 640, 360)
    assert asset_list_of(_ad([hostile]), "https://vetrina.example")["ASSETS"] == [], "only http(s) assets"


def test_attribute_text_never_breaks_a_playlist():
    for text in ['a"b', "a\nb", "a\rb", "a\x00b", "a\u2028b", "a,b=c", "价格 ✓"]:
        value = quoted(text)
        assert value.count('"') == 2 and "\n" not in value and "\r" not in value and "\x00" not in value
    body = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_0.ts\n#EXT-X-ENDLIST\n"
    anchor = datetime.fromisoformat("2026-01-02T03:04:05+00:00")
    hostile = DateRange("product-1", 0.5, (("X-TITLE", 'x",ID="y"\n#EXT-X-ENDLIST'), ("X-N", 2)))
    signed = with_signals(Playlist(body, '"e"'), Signals(anchor, (hostile,)))
    parsed = m3u8.loads(signed.body.decode())
    assert [s.uri for s in parsed.segments] == ["seg_0.ts"]
    [item] = parsed.segments[0].dateranges
    assert item.id == "product-1" and item.start_date == "2026-01-02T03:04:05.500Z"
    with pytest.raises(ValueError):
        DateRange("x", 0, (("bad name", "v"),)).line(anchor)
    with pytest.raises(ValueError):
        DateRange("x", 0, (("X-N", float("nan")),)).line(anchor)


def test_a_replay_keeps_its_own_dates_and_each_range_takes_its_segments():
    """A live show's replay is dated segment by segment and jumps where the show was interrupted: a range after the
    jump is dated by its own segment, not by the first date plus its second."""
    body = (
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T10:00:00.000Z\n#EXTINF:2.0,\nseg_0.ts\n"
        b"#EXT-X-PROGRAM-DATE-TIME:2026-12-06T10:00:02.000Z\n#EXTINF:2.0,\nseg_1.ts\n#EXT-X-DISCONTINUITY\n"
        b"#EXT-X-PROGRAM-DATE-TIME:2026-12-06T10:30:00.000Z\n#EXTINF:2.0,\nseg_2.ts\n#EXTINF:2.0,\nseg_3.ts\n"
        b"#EXT-X-ENDLIST\n"
    )
    anchor = datetime.fromisoformat("2000-01-01T00:00:00+00:00")  # unused: the replay has its own dates
    ranges = (DateRange("before", 1.0), DateRange("after", 5.0))
    signed = with_signals(Playlist(body, '"r"'), Signals(anchor, ranges))
    text = signed.body.decode()
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == 3, "the replay's own dates are kept, none added"
    found = ranges_by_id(text)
    assert found["before"].start_date == "2026-12-06T10:00:01.000Z"
    assert found["after"].start_date == "2026-12-06T10:30:01.000Z", "one second into the segment after the jump"
    assert [s.uri for s in m3u8.loads(text).segments] == ["seg_0.ts", "seg_1.ts", "seg_2.ts", "seg_3.ts"]
