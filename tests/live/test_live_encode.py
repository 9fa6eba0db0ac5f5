"""The live encoder on real parts: ffmpeg publishes a 480p picture to Debian's nginx-rtmp, the encoder pulls it with
its token and writes a live HLS ladder into the store, served over real HTTP and read with the `m3u8` package; the
publisher stops and comes back on the same key; the show ends and becomes a replay video."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta

import httpx
import imageio_ffmpeg
import m3u8
import pytest

from tests.commerce.helpers import product
from tests.helpers import wait_for
from tests.live.helpers import publish
from vetrina.accounts.models import Role
from vetrina.live import rtmp


def schedule(ingest, host, product_ids: list[int] | None = None) -> dict:
    body = {"title": "Tea, live", "product_ids": product_ids or []}
    response = httpx.post(f"{ingest.api_url}/api/v1/live", headers=host.auth, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def read_show(ingest, show_id: int) -> dict:
    return httpx.get(f"{ingest.api_url}/api/v1/live/{show_id}").json()


def media_playlist(ingest, master_url: str, rung: str) -> tuple[m3u8.M3U8, httpx.Response]:
    answer = httpx.get(master_url.replace("master.m3u8", f"{rung}/index.m3u8"))
    assert answer.status_code == 200, answer.text
    return m3u8.loads(answer.text), answer


def segment_count(ingest, master_url: str) -> int:
    """How many segments the 480p rung has published (0 before its first)."""
    answer = httpx.get(master_url.replace("master.m3u8", "480p/index.m3u8"))
    if answer.status_code == 404:
        return 0
    playlist = m3u8.loads(answer.text)
    return playlist.media_sequence + len(playlist.segments)


def test_a_live_stream_becomes_a_live_hls_ladder_resumes_on_its_key_and_ends_as_a_replay(ingest, encoder, make_account):
    merchant = make_account(Role.merchant)
    with httpx.Client(base_url=ingest.api_url) as http:
        tea = product(http, merchant)["id"]
    show = schedule(ingest, merchant, [tea])
    host = publish(f"{ingest.rtmp_url}/{show['stream_key']}", seconds=8, size="854x480", rate=25)
    wait_for(lambda: read_show(ingest, show["id"])["hls_url"], timeout_s=60, message="the live HLS")
    master_url = ingest.api_url + read_show(ingest, show["id"])["hls_url"]
    master = m3u8.loads(httpx.get(master_url).text)
    # The rungs of VETRINA_LIVE_LADDER_HEIGHTS (480, 360), capped at the source's 480 lines.
    assert [p.stream_info.resolution for p in master.playlists] == [(854, 480), (640, 360)]
    wait_for(lambda: segment_count(ingest, master_url) >= 3, timeout_s=60, message="three live segments")
    playlist, answer = media_playlist(ingest, master_url, "360p")
    assert not playlist.is_endlist and playlist.target_duration == 2  # fixed for the show: 1 s segments
    assert answer.headers["cache-control"].endswith("max-age=1")  # live: polled every segment
    assert all(s.program_date_time is not None and 0.5 <= s.duration <= 1.5 for s in playlist.segments[:-1])
    segment = httpx.get(master_url.replace("master.m3u8", f"360p/{playlist.segments[0].uri}"))
    assert segment.status_code == 200 and segment.content[:1] == b"\x47"  # MPEG-TS
    pin = httpx.post(f"{ingest.api_url}/api/v1/live/{show['id']}/pins", headers=merchant.auth, json={"product_id": tea})
    assert pin.status_code == 201, pin.text
    assert host.wait(timeout=60) == 0, host.stderr.read() if host.stderr else ""
    wait_for(lambda: read_show(ingest, show["id"])["status"] == "interrupted", timeout_s=20, message="interrupted")

    before = segment_count(ingest, master_url)
    again = publish(f"{ingest.rtmp_url}/{show['stream_key']}", seconds=5, size="854x480", rate=25)
    wait_for(lambda: segment_count(ingest, master_url) >= before + 2, timeout_s=60, message="the resumed stream")
    playlist, _ = media_playlist(ingest, master_url, "480p")
    assert any(s.discontinuity for s in playlist.segments)  # where the publisher came back
    again.wait(timeout=60)
    ended = httpx.post(f"{ingest.api_url}/api/v1/live/{show['id']}/end", headers=merchant.auth)
    assert ended.status_code == 200

    wait_for(lambda: read_show(ingest, show["id"])["replay_video_id"], timeout_s=60, message="the replay")
    replay = httpx.get(f"{ingest.api_url}/api/v1/videos/{read_show(ingest, show['id'])['replay_video_id']}")
    assert replay.status_code == 200, replay.text
    video = replay.json()
    assert video["status"] == "ready" and video["owner_id"] == merchant.user.id and video["title"] == "Tea, live"
    vod, answer = media_playlist(ingest, ingest.api_url + video["hls_url"], "480p")
    assert vod.is_endlist and vod.playlist_type == "vod" and vod.media_sequence == 0
    assert answer.headers["cache-control"].endswith("max-age=10")
    seconds = sum(s.duration for s in vod.segments)
    assert 10 <= seconds <= 14 and abs(seconds - video["duration_s"]) < 0.01  # 8 s and 5 s, less the joins
    times = [s.program_date_time for s in vod.segments]
    assert times == sorted(times) and all(isinstance(t, datetime) for t in times)
    assert httpx.get(ingest.api_url + video["poster_url"]).headers["content-type"] == "image/jpeg"
    # The pin is a tag of the replay at the second its stream time falls on (reckoned here from the playlist).
    pinned_at, elapsed, expected = datetime.fromisoformat(pin.json()["pinned_at"]), 0.0, None
    for segment in vod.segments:
        if expected is None and segment.program_date_time + timedelta(seconds=segment.duration) > pinned_at:
            expected = elapsed + max(0.0, (pinned_at - segment.program_date_time).total_seconds())
        elapsed += segment.duration
    tags = httpx.get(f"{ingest.api_url}/api/v1/videos/{video['id']}/timeline").json()["tags"]
    assert [tag["product"]["id"] for tag in tags] == [tea] and expected is not None
    assert abs(tags[0]["start_s"] - expected) < 1.0 and abs(tags[0]["end_s"] - seconds) < 0.01
    assert encoder.show_ids == set()  # handed back


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        ({"picture": False}, "no video"),
        ({"video": ["-c:v", "flv1"]}, "send H.264"),
        ({"size": "1280x720"}, "at most 480 lines"),
    ],
    ids=["no-video", "sorenson-h263", "too-tall"],
)
def test_a_stream_the_encoder_cannot_take_is_dropped_and_the_host_told_why(
    ingest, encoder, make_account, stream, problem
):
    encoder.ctx.settings.live_max_source_height = 480
    show = schedule(ingest, make_account(Role.merchant))
    host = publish(f"{ingest.rtmp_url}/{show['stream_key']}", seconds=30, **stream)
    try:
        host.wait(timeout=30)  # dropped long before its 30 s
    finally:
        if host.poll() is None:
            host.kill()
    assert host.returncode != 0
    read = read_show(ingest, show["id"])
    assert problem in (read["stream_problem"] or ""), read
    wait_for(lambda: read_show(ingest, show["id"])["status"] == "interrupted", timeout_s=20, message="interrupted")
    assert read_show(ingest, show["id"])["hls_url"] is None  # nothing was encoded


def test_nobody_but_the_encoder_pulls_a_shows_raw_stream(ingest, encoder, make_account, live_server):
    show = schedule(ingest, make_account(Role.merchant))
    host = publish(f"{ingest.rtmp_url}/{show['stream_key']}", seconds=15)
    try:
        wait_for(lambda: read_show(ingest, show["id"])["hls_url"], timeout_s=60, message="the live HLS")
        name = rtmp.stream_name(show["id"])
        for url in (
            f"{ingest.rtmp_url}/{name}",
            f"{ingest.rtmp_url}/{name}?pull=0",
            f"{ingest.rtmp_url}/{show['stream_key']}",
        ):
            viewer = subprocess.run(
                [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-rw_timeout", "5000000", "-i", url]
                + ["-t", "1", "-f", "null", "-"],
                capture_output=True,
                timeout=30,
            )
            assert viewer.returncode != 0, url
    finally:
        host.kill()
        host.wait()


def test_a_stream_without_sound_is_taken_as_picture_alone(ingest, encoder, make_account):
    show = schedule(ingest, make_account(Role.merchant))
    host = publish(f"{ingest.rtmp_url}/{show['stream_key']}", seconds=15, sound=False)
    try:
        wait_for(lambda: read_show(ingest, show["id"])["hls_url"], timeout_s=60, message="the live HLS")
        master_url = ingest.api_url + read_show(ingest, show["id"])["hls_url"]
        playlist = wait_for(
            lambda: (
                (answer := httpx.get(master_url.replace("master.m3u8", "240p/index.m3u8"))).status_code == 200
                and m3u8.loads(answer.text)
            ),
            timeout_s=30,
            message="the first segments",
        )
        assert playlist.segments and read_show(ingest, show["id"])["stream_problem"] is None
    finally:
        host.kill()
        host.wait()
