"""A worker killed mid-transcode: the video stays processing, nothing partial is published, another worker ends it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.helpers import make_clip, wait_for
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.leases import requeue_stalled
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.media.transcode import TRANSCODE_JOB, transcode_video

pytestmark = pytest.mark.slow


def _worker(settings, stall_seconds: float) -> subprocess.Popen:
    env = {
        **os.environ,
        "VETRINA_DATA_DIR": str(settings.data_dir),
        "VETRINA_DATABASE_URL": settings.database_url,
        "VETRINA_SECRET_KEY": settings.secret_key,
        "VETRINA_X264_PRESET": "veryfast",
        "VETRINA_LEASE_STALL_SECONDS": str(stall_seconds),
        "VETRINA_JOB_POLL_MAX_S": "0.2",
    }
    # A process group of its own, so the kill takes its ffmpeg child down with it.
    return subprocess.Popen(
        [sys.executable, "-m", "vetrina", "worker"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _video(ctx, video_id) -> Video:
    with ctx.db.session() as session:
        return session.get(Video, video_id)


def _queued_video(ctx, owner, clip, title: str, **row_changes) -> Video:
    """A video created through the media service (its transcode queued), with optional row changes."""
    upload = ctx.settings.data_dir / f"upload-{title}.mp4"
    upload.write_bytes(clip.read_bytes())
    with ctx.db.session() as session:
        video = media.create_video(ctx, session, owner, title=title, description="", upload=upload, filename="clip.mp4")
        for name, value in row_changes.items():
            setattr(video, name, value)
    return video


def test_killed_worker_leaves_video_processing_and_the_retry_publishes_it(ctx, settings, make_account, media_dir):
    clip = make_clip(media_dir / "long-480p.mp4", 24, size="854x480", rate=30)
    video_id = _queued_video(ctx, make_account(Role.merchant).user, clip, "Interrupted").id

    first = _worker(settings, stall_seconds=2)
    try:
        wait_for(lambda: _video(ctx, video_id).progress > 0.05, timeout_s=120, message="transcode progress")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

    stuck = _video(ctx, video_id)
    assert stuck.status == "processing"
    assert stuck.output_key is None
    assert stuck.attempts == 1
    assert not list(ctx.store.path(f"videos/{video_id}").glob("hls-*"))

    # Once the dead worker's lease has gone stale, a new worker's start-up sweep takes the video over.
    wait_for(
        lambda: clock.now() - _video(ctx, video_id).heartbeat_at > timedelta(seconds=2.5),
        timeout_s=10,
        message="the lease to go stale",
    )
    second = _worker(settings, stall_seconds=2)
    try:
        done = wait_for(
            lambda: (v := _video(ctx, video_id)).status != "processing" and v, timeout_s=240, message="retry"
        )
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(timeout=10)
    assert done.status == "ready", done.error
    assert done.attempts == 2
    published = list(ctx.store.path(f"videos/{video_id}").glob("hls-*"))
    assert [p.name for p in published] == [done.output_key.rsplit("/", 1)[1]]
    assert (published[0] / "master.m3u8").exists()
    assert not list((ctx.store.root / ".work").glob(f"video-{video_id}-*"))


def test_a_live_lease_is_not_taken_over(ctx, make_account, short_clip):
    owner = make_account(Role.merchant).user
    video = _queued_video(ctx, owner, short_clip, "Leased", heartbeat_at=clock.now(), lease_token="someone-else")
    assert requeue_stalled(ctx) == {}
    later = clock.now() + timedelta(seconds=ctx.settings.lease_stall_seconds + 1)
    before = ctx.queue.pending_count()
    assert requeue_stalled(ctx, now=later) == {TRANSCODE_JOB: [video.id]}
    assert ctx.queue.pending_count() == before + 1

    transcode_video(ctx, video.id)  # the lease is fresh: this worker must walk away
    assert _video(ctx, video.id).lease_token == "someone-else"
    assert _video(ctx, video.id).status == "processing"


def test_a_live_last_attempt_is_not_failed_by_a_duplicate_task(ctx, make_account, short_clip):
    attempts = ctx.settings.lease_max_attempts
    owner = make_account(Role.merchant).user
    video = _queued_video(
        ctx, owner, short_clip, "Last try", attempts=attempts, heartbeat_at=clock.now(), lease_token="live-worker"
    )
    transcode_video(ctx, video.id)
    assert _video(ctx, video.id).status == "processing"
    assert _video(ctx, video.id).lease_token == "live-worker"


def test_never_claimed_videos_wait_their_turn_before_a_second_task(ctx, make_account, short_clip):
    video = _queued_video(ctx, make_account(Role.merchant).user, short_clip, "Queued")
    later = clock.now() + timedelta(seconds=ctx.settings.lease_stall_seconds * 2)
    assert requeue_stalled(ctx, now=later) == {}
    assert requeue_stalled(ctx, now=clock.now() + timedelta(hours=2)) == {TRANSCODE_JOB: [video.id]}


def test_gives_up_after_the_attempt_limit(ctx, make_account, short_clip):
    attempts = ctx.settings.lease_max_attempts
    video = _queued_video(ctx, make_account(Role.merchant).user, short_clip, "Cursed", attempts=attempts)
    transcode_video(ctx, video.id)
    failed = _video(ctx, video.id)
    assert failed.status == "failed"
    assert "attempts" in failed.error
