"""Subtitles in the HLS playlists, read as a third-party player reads them (the m3u8 package): a subtitle rendition
per language in the master playlist and every variant naming their group; each rendition a one-segment VOD playlist
whose WebVTT maps cue time 0 onto the ladder's first timestamp; the master's ETag following every change."""

from __future__ import annotations

import math
import re
import subprocess
from urllib.parse import urljoin

import m3u8

from tests.media.subtitles.helpers import ENGLISH, ITALIAN_SRT, cues, upload
from vetrina.media.ffmpeg import ffmpeg_exe
from vetrina.media.models import Video


def master_of(client, video_id: int, etag: str | None = None):
    url = client.get(f"/api/v1/videos/{video_id}").json()["hls_url"]
    return url, client.get(url, headers={"If-None-Match": etag} if etag else {})


def first_segment_start(ctx, video_id: int) -> float:
    """The first segment's start time as ffmpeg reports it (seconds), read from the file itself."""
    with ctx.db.session() as session:
        output_key = session.get(Video, video_id).output_key
    folder = ctx.store.path(output_key)
    variant = sorted(folder.glob("*/index.m3u8"))[0]
    segment = variant.parent / next(line for line in variant.read_text().splitlines() if line.endswith(".ts"))
    report = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(segment)], capture_output=True, text=True)
    return float(re.search(r"start: (\d+\.\d+)", report.stderr).group(1))


def test_the_master_playlist_carries_a_rendition_per_language(client, ctx, owner, film):
    master_url, bare = master_of(client, film)
    assert "SUBTITLES" not in bare.text, "no subtitles: the master as the transcode wrote it"

    assert upload(client, owner, film, "it", ITALIAN_SRT, name="s.srt").status_code == 201
    assert upload(client, owner, film, "en", ENGLISH).status_code == 201
    master_url, answer = master_of(client, film, etag=bare.headers["etag"])
    assert answer.status_code == 200 and answer.headers["etag"] != bare.headers["etag"]
    master = m3u8.loads(answer.text, uri=master_url)
    renditions = {m.language: m for m in master.media if m.type == "SUBTITLES"}
    assert set(renditions) == {"en", "it"}
    for language, name in (("en", "English"), ("it", "Italiano")):
        media = renditions[language]
        assert (media.group_id, media.name, media.default, media.autoselect) == ("subs", name, "NO", "YES")
        assert media.uri and "/media/" in media.uri
    assert master.playlists and all(p.stream_info.subtitles == "subs" for p in master.playlists)

    with ctx.db.session() as session:
        duration_s = session.get(Video, film).duration_s
    rendition_url = urljoin(master_url, renditions["it"].uri)
    rendition = client.get(rendition_url)
    assert rendition.status_code == 200 and rendition.headers["etag"]
    assert rendition.headers["access-control-allow-origin"] == "*"
    parsed = m3u8.loads(rendition.text, uri=rendition_url)
    assert parsed.is_endlist and parsed.playlist_type == "vod"
    assert parsed.target_duration == math.ceil(duration_s)
    [segment] = parsed.segments
    assert abs(segment.duration - duration_s) < 0.001
    assert "#EXT-X-PROGRAM-DATE-TIME" not in rendition.text and "#EXT-X-DATERANGE" not in rendition.text

    webvtt = client.get(segment.absolute_uri)
    assert webvtt.status_code == 200 and webvtt.headers["content-type"].startswith("text/vtt")
    header, body = webvtt.text.split("\n\n", 1)
    # Cue time 0 is the first frame: the first segment's first timestamp, at 90 kHz.
    start_pts = round(first_segment_start(ctx, film) * 90_000)
    assert start_pts > 0, "ffmpeg's segments do not start at 0, so the map matters"
    assert header == f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{start_pts},LOCAL:00:00:00.000"
    assert body.startswith("1\n00:00:01.000 --> 00:00:02.500\nCiao &amp; <b>benvenuti</b>.")

    # The variants' media playlists are as before: their signals, no subtitles.
    variant = client.get(urljoin(master_url, master.playlists[0].uri)).text
    assert "#EXT-X-PROGRAM-DATE-TIME" in variant and "SUBTITLES" not in variant


def test_every_change_is_seen_on_the_next_master_request(client, owner, film):
    _, bare = master_of(client, film)
    assert upload(client, owner, film, "en", ENGLISH).status_code == 201
    _, one = master_of(client, film, etag=bare.headers["etag"])
    assert one.status_code == 200 and one.text.count("TYPE=SUBTITLES") == 1

    _, unchanged = master_of(client, film, etag=one.headers["etag"])
    assert unchanged.status_code == 304

    replaced = upload(client, owner, film, "en", cues((1, 2)))
    assert replaced.status_code == 200
    _, two = master_of(client, film, etag=one.headers["etag"])
    assert two.status_code == 200 and two.headers["etag"] != one.headers["etag"]
    old_uri = re.search(r'URI="([^"]+)"', one.text).group(1)
    assert old_uri not in two.text, "a replacement is a new rendition address"

    assert client.delete(f"/api/v1/videos/{film}/subtitles/en", headers=owner.auth).status_code == 204
    _, none = master_of(client, film, etag=two.headers["etag"])
    assert none.status_code == 200 and none.text == bare.text and none.headers["etag"] == bare.headers["etag"]
    master_url, _ = master_of(client, film)
    assert client.get(urljoin(master_url, old_uri)).status_code == 404, "a removed rendition is gone"
