"""The video API over the real pipeline: upload, transcode with real ffmpeg, stream, and refuse bad input."""

from __future__ import annotations

from pathlib import Path

import m3u8
import pytest

from tests.helpers import make_clip
from tests.web.helpers import assert_problem, upload, wait_until_done
from vetrina.accounts.models import Role
from vetrina.media.models import Video

pytestmark = pytest.mark.slow


def leftovers(ctx) -> list[Path]:
    """Files in the store outside the published videos: scratch files and sources of rejected uploads."""
    root = ctx.store.root
    return [p for p in root.rglob("*") if p.is_file()]


def test_upload_transcodes_to_an_hls_ladder(client, make_account, short_clip, ctx):
    merchant = make_account(Role.merchant)
    response = upload(client, merchant, short_clip, title="Spring lookbook", description="Linen and light.")
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "processing"

    video = wait_until_done(client, merchant, accepted["id"])
    assert video["status"] == "ready", video["error"]
    assert video["progress"] == 1.0
    assert video["duration_s"] == pytest.approx(6, abs=0.2)
    assert [r["height"] for r in video["renditions"]] == [480, 360]
    assert all(r["bandwidth"] > 0 for r in video["renditions"])

    answer = client.get(video["hls_url"])
    master = m3u8.loads(answer.text, uri=video["hls_url"])
    assert master.is_variant
    # Playlists are Vetrina's answers (an ETag, a short max-age); segments are immutable objects.
    assert answer.headers["cache-control"] == "public, max-age=10" and answer.headers["etag"]
    again = client.get(video["hls_url"], headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    heights = sorted(p.stream_info.resolution[1] for p in master.playlists)
    assert heights == [360, 480]
    for playlist in master.playlists:
        info = playlist.stream_info
        assert info.bandwidth > 0
        assert info.codecs.startswith("avc1.") and "mp4a.40.2" in info.codecs
        media_url = playlist.absolute_uri
        media_response = client.get(media_url)
        assert media_response.headers["content-type"] == "application/vnd.apple.mpegurl"
        media = m3u8.loads(media_response.text, uri=media_url)
        assert media.is_endlist and media.playlist_type == "vod"
        assert media.target_duration <= 5
        assert sum(s.duration for s in media.segments) == pytest.approx(6, abs=0.3)
        segment = client.get(media.segments[0].absolute_uri)
        assert segment.status_code == 200
        assert segment.headers["content-type"] == "video/mp2t"
        assert "max-age=" in segment.headers["cache-control"]
        assert segment.content[0] == 0x47  # MPEG-TS sync byte

    poster = client.get(video["poster_url"])
    assert poster.headers["content-type"] == "image/jpeg" and poster.content[:2] == b"\xff\xd8"
    track = client.get(video["thumbnails_url"])
    assert track.headers["content-type"].startswith("text/vtt")
    assert track.text.startswith("WEBVTT")
    cues = [line for line in track.text.splitlines() if "-->" in line]
    assert cues == ["00:00:00.000 --> 00:00:02.000", "00:00:02.000 --> 00:00:04.000", "00:00:04.000 --> 00:00:06.000"]
    assert "thumb_0003.jpg#xywh=0,0,160,120" in track.text
    thumb_url = video["thumbnails_url"].rsplit("/", 1)[0] + "/thumb_0003.jpg"
    assert client.get(thumb_url).content[:2] == b"\xff\xd8"

    listed = client.get("/api/v1/videos").json()
    assert [item["id"] for item in listed["items"]] == [video["id"]]
    assert listed["total"] == 1
    assert not list((ctx.store.root / ".work").iterdir())


def test_media_is_served_with_ranges_and_refused_without_a_valid_signature(client, make_account, short_clip):
    merchant = make_account()
    video = wait_until_done(client, merchant, upload(client, merchant, short_clip).json()["id"])
    segment_url = video["hls_url"].replace("master.m3u8", "480p/seg_00000.ts")
    whole = client.get(segment_url)
    assert whole.headers["accept-ranges"] == "bytes"
    partial = client.get(segment_url, headers={"Range": "bytes=188-375"})
    assert partial.status_code == 206
    assert partial.content == whole.content[188:376]
    assert partial.headers["content-range"] == f"bytes 188-375/{len(whole.content)}"

    token, _, key = segment_url.removeprefix("/media/").partition("/")
    expires, depth, bound_to, covers, signature = token.split(".")
    forged = f"/media/{expires}.{depth}.{bound_to}.{covers}.{'0' * len(signature)}/{key}"
    assert_problem(client.get(forged), 403, "forbidden")
    extended = f"/media/{int(expires) + 3600}.{depth}.{bound_to}.{covers}.{signature}/{key}"
    assert_problem(client.get(extended), 403, "forbidden")
    source_key = key.split("/hls-")[0] + "/source.mp4"
    assert_problem(client.get(f"/media/{token}/{source_key}"), 403, "forbidden")
    # Encoded dots reach the server as "..": the key check, not the client, must stop them.
    assert_problem(client.get(f"/media/{token}/videos/%2e%2e/%2e%2e/secret_key"), 403, "forbidden")
    shallow = f"/media/{expires}.1.{bound_to}.{covers}.{signature}/videos/%2e%2e/secret_key"
    assert_problem(client.get(shallow), 403, "forbidden")


def test_processing_and_failed_videos_are_visible_only_to_their_owner(client, make_account, media_dir, ctx):
    owner, other = make_account(), make_account()
    # A faststart MP4 cut in half probes fine (its index is up front) but runs out of picture while transcoding.
    whole = make_clip(media_dir / "faststart.mp4", 8, faststart=True)
    truncated = media_dir / "faststart-truncated.mp4"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    response = upload(client, owner, truncated)
    assert response.status_code == 202, response.text
    video_id = response.json()["id"]
    assert_problem(client.get(f"/api/v1/videos/{video_id}", headers=other.auth), 404, "not-found")
    assert_problem(client.get(f"/api/v1/videos/{video_id}"), 404, "not-found")

    failed = wait_until_done(client, owner, video_id)
    assert failed["status"] == "failed"
    assert "truncated or damaged" in failed["error"]
    assert failed["hls_url"] is None
    assert client.get("/api/v1/videos").json()["total"] == 0
    assert not list(ctx.store.path(f"videos/{video_id}").glob("hls-*"))
    assert not list((ctx.store.root / ".work").iterdir())


@pytest.mark.parametrize(
    ("kind", "status", "slug", "fragment"),
    [
        ("text", 415, "unsupported-media", "not a readable video"),
        ("truncated", 415, "unsupported-media", "not a readable video"),
        ("audio-only", 415, "unsupported-media", "audio-only"),
        ("image", 415, "unsupported-media", "still image"),
        ("empty", 422, "invalid-input", "empty"),
    ],
)
def test_unusable_files_are_refused_and_leave_nothing(
    client, make_account, ctx, media_dir, kind, status, slug, fragment
):
    merchant = make_account()
    path = media_dir / f"bad-{kind}"
    if kind == "text":
        path.write_text("this is not a video\n" * 100)
    elif kind == "truncated":
        whole = make_clip(media_dir / "moov-at-end.mp4", 4)
        path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    elif kind == "audio-only":
        path = media_dir / "tone.m4a"
        if not path.exists():
            from vetrina.media.ffmpeg import run_ffmpeg

            run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac", str(path)])
    elif kind == "image":
        path = media_dir / "still.jpg"
        if not path.exists():
            from vetrina.media.ffmpeg import run_ffmpeg

            run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(path)])
    elif kind == "empty":
        path.write_bytes(b"")
    body = assert_problem(upload(client, merchant, path), status, slug)
    assert fragment in body["detail"]
    assert leftovers(ctx) == []
    with ctx.db.session() as session:
        assert session.query(Video).count() == 0
    assert client.get("/healthz").json()["status"] == "ok"


def test_size_and_duration_limits(tmp_path, database_url, media_dir, short_clip):
    from fastapi.testclient import TestClient

    from tests.helpers import Account
    from vetrina.accounts import service as accounts
    from vetrina.runtime import build_context
    from vetrina.settings import Settings
    from vetrina.web.app import create_app

    settings = Settings(
        data_dir=tmp_path / "limits",
        database_url=database_url,
        secret_key="k",
        max_upload_bytes=short_clip.stat().st_size - 1,
        max_duration_s=5,
    )
    ctx = build_context(settings)
    try:
        with ctx.db.session() as session:
            user = accounts.create_user(session, "m@example.com", "password123", Role.merchant)
            session.flush()
            account = Account(user=user, token=accounts.create_api_token(session, user))
        with TestClient(create_app(ctx)) as client:
            body = assert_problem(upload(client, account, short_clip), 413, "payload-too-large")
            assert "limit" in body["detail"]
            # Far past the limit, the body is refused from its Content-Length before it is read.
            big = tmp_path / "big.bin"
            big.write_bytes(b"\0" * (settings.max_upload_bytes + 2 * 1024 * 1024))
            assert_problem(upload(client, account, big), 413, "content-too-large")
            small = make_clip(media_dir / "six-seconds-small.mp4", 6, size="160x120")
            body = assert_problem(upload(client, account, small), 422, "invalid-input")
            assert "limit is 5 s" in body["detail"]
        assert leftovers(ctx) == []
    finally:
        ctx.close()


def test_upload_needs_an_uploader_and_well_formed_fields(client, make_account, short_clip):
    viewer = make_account(Role.viewer)
    merchant = make_account()
    assert_problem(upload(client, viewer, short_clip), 403, "forbidden")
    with short_clip.open("rb") as handle:
        anonymous = client.post("/api/v1/videos", data={"title": "x"}, files={"file": ("a.mp4", handle)})
    assert_problem(anonymous, 401, "not-authenticated")
    bad_token = client.get("/api/v1/videos?mine=true", headers={"Authorization": "Bearer nope"})
    assert_problem(bad_token, 401, "not-authenticated")
    missing_file = client.post("/api/v1/videos", headers=merchant.auth, data={"title": "x"})
    assert_problem(missing_file, 422, "invalid-input")
    with short_clip.open("rb") as handle:
        no_title = client.post("/api/v1/videos", headers=merchant.auth, files={"file": ("a.mp4", handle)})
    body = assert_problem(no_title, 422, "invalid-input")
    assert any(e["field"] == "title" for e in body["errors"])
    assert_problem(upload(client, merchant, short_clip, title="   "), 422, "invalid-input")
    assert_problem(upload(client, merchant, short_clip, title="t" * 201), 422, "invalid-input")
    assert_problem(client.get("/api/v1/videos/999999"), 404, "not-found")
    assert_problem(client.get("/api/v1/videos/3000000000"), 422, "invalid-input")
    assert_problem(client.get("/api/v1/videos/99999999999999999999999"), 422, "invalid-input")
    assert_problem(client.get("/api/v1/videos/0"), 422, "invalid-input")
    assert_problem(client.get("/api/v1/videos/not-a-number"), 422, "invalid-input")
    assert_problem(client.get("/api/v1/videos?per_page=1000"), 422, "invalid-input")


def test_a_merchant_changes_only_its_own_videos(client, make_account, short_clip, ctx):
    owner, rival, admin = make_account(), make_account(), make_account(Role.admin)
    video_id = upload(client, owner, short_clip, title="Mine").json()["id"]
    wait_until_done(client, owner, video_id)
    url = f"/api/v1/videos/{video_id}"

    assert_problem(client.patch(url, headers=rival.auth, json={"title": "Stolen"}), 403, "forbidden")
    assert_problem(client.delete(url, headers=rival.auth), 403, "forbidden")
    assert_problem(client.patch(url, json={"title": "Anonymous"}), 401, "not-authenticated")
    assert client.get(url).json()["title"] == "Mine"

    assert_problem(client.patch(url, headers=owner.auth, json={"title": 12}), 422, "invalid-input")
    assert_problem(client.patch(url, headers=owner.auth, json={"owner_id": rival.user.id}), 422, "invalid-input")
    assert_problem(client.patch(url, headers=owner.auth, content=b"{not json"), 422, "invalid-input")
    changed = client.patch(url, headers=owner.auth, json={"title": "Renamed", "published": False})
    assert changed.status_code == 200 and changed.json()["title"] == "Renamed"
    assert_problem(client.get(url), 404, "not-found")  # unpublished: hidden from the public
    assert client.get("/api/v1/videos?mine=true", headers=owner.auth).json()["total"] == 1

    assert client.patch(url, headers=admin.auth, json={"published": True}).status_code == 200
    assert client.delete(url, headers=owner.auth).status_code == 204
    assert_problem(client.get(url, headers=owner.auth), 404, "not-found")
    assert not ctx.store.path(f"videos/{video_id}").exists()


@pytest.mark.parametrize("written", ["+{id}", "{id}.0", "%20{id}", "{id}%20", "0{id}_0", "{id}e0", "%D9%A1"])
def test_an_id_in_a_path_is_plain_digits_or_refused(client, make_account, ctx, written):
    """pydantic alone reads "+12", " 12", "12.0" as 12, which the upload gate's path pattern (its sign-in and quota
    check before the body is read) does not match: every such path is a 422, and nothing is stored."""
    from tests.helpers import ready_video_row

    merchant = make_account(Role.merchant)
    with ctx.db.session() as session:
        video = ready_video_row(merchant.user.id)
        session.add(video)
        session.flush()
        video_id = video.id
    path = written.format(id=video_id)
    assert_problem(client.get(f"/api/v1/videos/{path}", headers=merchant.auth), 422, "invalid-input")
    cues = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCiao\n"
    sent = client.post(
        f"/api/v1/videos/{path}/subtitles",
        headers=merchant.auth,
        data={"language": "it"},
        files={"file": ("it.vtt", cues, "text/vtt")},
    )
    assert sent.status_code == 422, sent.text
    assert client.get(f"/api/v1/videos/{video_id}/subtitles", headers=merchant.auth).json() == []
    assert client.get(f"/api/v1/videos/{video_id}", headers=merchant.auth).status_code == 200
