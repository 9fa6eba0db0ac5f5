"""Long sources transcoded in parts (any worker takes any part) and joined into one seamless ladder."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from fractions import Fraction

import av
import pytest
from pydantic import ValidationError

from tests.helpers import free_port, in_bucket, make_clip
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.leases import claim
from vetrina.media import service as media
from vetrina.media.models import AUDIO_PART, TranscodeChunk, Video
from vetrina.media.transcode import transcode_part, transcode_video
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.storage.s3 import s3_client

FPS = 30
SECONDS = 13  # spans 0-4, 4-8 and 8-13 (a 1 s tail joins the last), with 2 s segments


IN_PARTS = {"segment_seconds": 2, "transcode_chunk_seconds": 4, "ladder_heights": [360, 240]}


@pytest.fixture
def chunked(settings: Settings):
    ctx = build_context(settings.model_copy(update=IN_PARTS))
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def long_clip(media_dir):
    return make_clip(media_dir / "chunked-13s.mp4", SECONDS, size="640x360", rate=FPS)


def _upload(ctx, owner, clip) -> int:
    upload = ctx.settings.data_dir / "upload.mp4"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(clip.read_bytes())
    with ctx.db.session() as session:
        video = media.create_video(ctx, session, owner, title="Long", description="", upload=upload, filename="a.mp4")
    return video.id


def _video(ctx, video_id) -> Video:
    with ctx.db.session() as session:
        return session.get(Video, video_id)


def _parts(ctx, video_id) -> list[TranscodeChunk]:
    with ctx.db.session() as session:
        return list(session.query(TranscodeChunk).filter_by(video_id=video_id).order_by(TranscodeChunk.part))


def _packets(path, kind: str) -> list[tuple[float, bool]]:
    """(presentation time, keyframe) of every packet of the file's `kind` stream, in decode order."""
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [
            (float(p.pts * Fraction(stream.time_base)), p.is_keyframe)
            for p in container.demux(stream)
            if p.pts is not None
        ]


def _media_segments(store, key: str, rendition: str) -> list[str]:
    with store.local_copy(f"{key}/{rendition}/index.m3u8") as playlist:
        return [line for line in playlist.read_text().splitlines() if line and not line.startswith("#")]


def test_a_long_source_is_encoded_in_parts_and_joined_seamlessly(chunked, make_account, long_clip):
    ctx = chunked
    video_id = _upload(ctx, make_account(Role.merchant).user, long_clip)
    transcode_video(ctx, video_id)  # plans the parts and hands the video off to them

    planned = _parts(ctx, video_id)
    assert [(p.part, p.start_s, p.until_end) for p in planned] == [
        (AUDIO_PART, 0.0, True),
        (0, 0.0, False),
        (1, 4.0, False),
        (2, 8.0, True),
    ]
    handed_off = _video(ctx, video_id)
    assert handed_off.status == "processing" and handed_off.lease_token is None and handed_off.attempts == 0

    # Parts are taken in any order, by any worker; the video's progress sums them.
    progress = [0.0]
    started = time.monotonic()
    for part in reversed(planned):
        transcode_part(ctx, part.id)
        progress.append(_video(ctx, video_id).progress)
        assert _video(ctx, video_id).status == "processing"
    assert progress == sorted(progress) and progress[-2] > 0.5
    assert _video(ctx, video_id).heartbeat_at is None  # the last part made it takeable at once

    encoded_s = time.monotonic() - started
    transcode_video(ctx, video_id)  # the join
    video = _video(ctx, video_id)
    assert video.status == "ready", video.error
    assert [r["height"] for r in video.renditions] == [360, 240]
    assert video.transcode_seconds >= encoded_s  # from the plan to the join, every part's encode included
    assert _parts(ctx, video_id) == []
    key = video.output_key

    master = ctx.store.path(f"{key}/master.m3u8").read_text()
    assert master.count('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"') == 1  # audio encoded once, shared
    assert master.count('AUDIO="audio"') == 2 and "mp4a.40.2" in master

    frame = 1 / FPS
    starts = {}
    for rendition in ("360p", "240p"):
        names = _media_segments(ctx.store, key, rendition)
        assert names == [f"seg_{n:05d}.ts" for n in range(math.ceil(SECONDS / 2))]
        packets = [_packets(ctx.store.path(f"{key}/{rendition}/{name}"), "video") for name in names]
        assert all(segment[0][1] for segment in packets)  # every segment opens on a keyframe
        assert sum(len(segment) for segment in packets) == SECONDS * FPS  # no frame lost or doubled at a join
        times = sorted(t for segment in packets for t, _ in segment)
        steps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert max(steps) < frame * 1.5 and min(steps) > frame * 0.5  # timestamps run on across joins
        starts[rendition] = [min(t for t, _ in segment) for segment in packets]
    assert starts["360p"] == starts["240p"]  # renditions switch cleanly at every segment

    audio_files = [ctx.store.path(f"{key}/audio/{name}") for name in _media_segments(ctx.store, key, "audio")]
    audio = [t for path in audio_files for t, _ in _packets(path, "audio")]
    assert abs(audio[0] - starts["360p"][0]) < 0.05  # audio and picture start together
    assert abs((audio[-1] - audio[0]) - SECONDS) < 0.1
    assert max(b - a for a, b in zip(audio, audio[1:], strict=False)) < 0.03  # no gap in the sound

    track = ctx.store.path(f"{key}/thumbs/thumbs.vtt").read_text()
    images = [line.split("#", 1)[0] for line in track.splitlines() if line.startswith("thumb_")]
    assert len(images) == math.ceil(SECONDS / 2)
    assert all(ctx.store.path(f"{key}/thumbs/{image}").stat().st_size > 0 for image in images)
    assert ctx.store.exists(f"{key}/poster.jpg")


def test_a_part_whose_worker_died_is_taken_over_and_only_it_is_encoded_again(chunked, make_account, long_clip):
    ctx = chunked
    video_id = _upload(ctx, make_account(Role.merchant).user, long_clip)
    transcode_video(ctx, video_id)
    audio, first, second, last = _parts(ctx, video_id)
    for part in (audio, first, last):
        transcode_part(ctx, part.id)
    # A worker claimed the second part, then died: its lease goes quiet.
    assert claim(ctx, TranscodeChunk, second.id) is not None
    transcode_part(ctx, second.id)  # its lease is live: a duplicate task walks away
    assert _video(ctx, video_id).status == "processing"

    later = clock.now() + timedelta(seconds=ctx.settings.lease_stall_seconds + 1)
    clock.set_clock(lambda: later)
    transcode_part(ctx, second.id)
    attempts = {p.part: p.attempts for p in _parts(ctx, video_id)}
    assert attempts == {AUDIO_PART: 1, 0: 1, 1: 2, 2: 1}
    transcode_video(ctx, video_id)
    assert _video(ctx, video_id).status == "ready"


def test_a_part_that_fails_for_good_fails_the_video_with_its_reason(chunked, make_account, long_clip):
    ctx = chunked
    video_id = _upload(ctx, make_account(Role.merchant).user, long_clip)
    transcode_video(ctx, video_id)
    parts = _parts(ctx, video_id)
    with ctx.db.session() as session:  # the last part was interrupted as often as allowed
        session.get(TranscodeChunk, parts[-1].id).attempts = ctx.settings.lease_max_attempts
    for part in parts:
        transcode_part(ctx, part.id)
    transcode_video(ctx, video_id)
    failed = _video(ctx, video_id)
    assert failed.status == "failed"
    assert "interrupted attempts" in failed.error and failed.output_key is None


def test_a_part_failed_for_good_stops_the_parts_not_yet_encoded(chunked, make_account, long_clip):
    ctx = chunked
    video_id = _upload(ctx, make_account(Role.merchant).user, long_clip)
    transcode_video(ctx, video_id)
    audio, first, second, last = _parts(ctx, video_id)
    with ctx.db.session() as session:
        session.get(TranscodeChunk, last.id).attempts = ctx.settings.lease_max_attempts
    transcode_part(ctx, last.id)  # fails for good; three parts are still to do, so nobody is woken yet
    assert _video(ctx, video_id).status == "processing"
    # The sweep finds the video quiet and wakes it: it fails, and so do the parts nobody has encoded yet.
    later = clock.now() + timedelta(seconds=ctx.settings.lease_stall_seconds + 1)
    clock.set_clock(lambda: later)
    transcode_video(ctx, video_id)
    assert _video(ctx, video_id).status == "failed"
    assert {p.status for p in _parts(ctx, video_id)} == {"failed"}
    transcode_part(ctx, first.id)  # its task was queued before: nothing is encoded
    assert not ctx.store.exists(f"{last.output_key}/360p")


def test_deleting_a_video_mid_transcode_drops_its_parts(chunked, make_account, long_clip):
    ctx = chunked
    owner = make_account(Role.merchant).user
    video_id = _upload(ctx, owner, long_clip)
    transcode_video(ctx, video_id)
    first = _parts(ctx, video_id)[1]
    with ctx.db.session() as session:
        media.delete_video(ctx, session, video_id, owner)
    assert _parts(ctx, video_id) == []
    transcode_part(ctx, first.id)  # its task was already queued: nothing to do
    assert not ctx.store.exists(f"videos/{video_id}")


def test_chunks_must_end_on_the_segment_grid(tmp_path):
    with pytest.raises(ValidationError, match="multiple of VETRINA_SEGMENT_SECONDS"):
        Settings(data_dir=tmp_path, segment_seconds=4, transcode_chunk_seconds=30)
    assert Settings(data_dir=tmp_path, segment_seconds=4, transcode_chunk_seconds=0).transcode_chunk_seconds == 0


@pytest.mark.slow
def test_a_part_that_meets_a_store_outage_waits_for_it_uncounted(
    settings, s3_endpoint, s3_bucket, make_account, long_clip
):
    ctx = build_context(in_bucket(settings, s3_endpoint, s3_bucket, **IN_PARTS))
    try:
        video_id = _upload(ctx, make_account(Role.merchant).user, long_clip)
        transcode_video(ctx, video_id)
        parts = _parts(ctx, video_id)
        working = ctx.store.client
        ctx.store.client = s3_client(f"http://127.0.0.1:{free_port()}")  # the store goes down
        queued = ctx.queue.pending_count()
        transcode_part(ctx, parts[1].id)
        waiting = next(p for p in _parts(ctx, video_id) if p.id == parts[1].id)
        assert (waiting.status, waiting.attempts, waiting.lease_token) == ("queued", 0, None)
        assert ctx.queue.pending_count() == queued + 1  # to try again after a pause
        assert _video(ctx, video_id).status == "processing"

        ctx.store.client = working  # back
        for part in parts:
            transcode_part(ctx, part.id)
        transcode_video(ctx, video_id)
        video = _video(ctx, video_id)
        assert video.status == "ready", video.error
        for name in _media_segments(ctx.store, video.output_key, "360p"):
            assert ctx.store.size(f"{video.output_key}/360p/{name}") > 0
    finally:
        ctx.close()
