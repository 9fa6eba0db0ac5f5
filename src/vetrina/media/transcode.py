"""The transcode job: lease the video, run the one-pass ladder, publish all of it or none of it.

A video is transcoded by whoever holds its lease. The holder renews the lease with each progress
heartbeat; a worker that dies stops renewing, and the stalled-work sweep (`leases.requeue_stalled`) hands
the video to another worker after `lease_stall_seconds`. The ladder is written to a scratch directory and
published with one rename, so a crash never leaves a partial ladder where a player can see it.
"""

from __future__ import annotations

import time
from datetime import timedelta

from vetrina import clock
from vetrina.context import Context
from vetrina.leases import Lease, LeaseLost, leased_job, run_under_lease
from vetrina.media.ffmpeg import FfmpegFailed, run_ffmpeg
from vetrina.media.ladder import (
    LadderIncomplete,
    check_ladder,
    ladder_command,
    plan_ladder,
    write_thumbnail_track,
)
from vetrina.media.models import Video, VideoStatus
from vetrina.media.probe import ProbeResult

TRANSCODE_JOB = "media.transcode"
# Uploads queue behind each other's transcodes: until an hour has passed, an unclaimed video is most likely
# still waiting its turn, and a second task would only be a duplicate.
NEVER_CLAIMED_AFTER = timedelta(hours=1)


def output_prefix(video_id: int) -> str:
    return f"videos/{video_id}"


@leased_job(TRANSCODE_JOB, Video, never_claimed_after=NEVER_CLAIMED_AFTER)
def transcode_video(ctx: Context, video_id: int) -> None:
    """Transcode one uploaded video into its HLS ladder, poster and seek thumbnails."""
    run_under_lease(
        ctx,
        Video,
        video_id,
        _transcode,
        explain=_readable,
        expected=(FfmpegFailed, LadderIncomplete),
        scratch=f"video-{video_id}",
    )


def _transcode(lease: Lease) -> None:
    with lease.ctx.db.session() as session:
        video = lease.get(session, Video)
        probe = ProbeResult(
            duration_s=video.duration_s,
            width=video.width,
            height=video.height,
            frame_rate=video.frame_rate,
            has_audio=video.has_audio,
            format_name="",
        )
        source_key = video.source_key
    assert source_key is not None  # set by create_video in the transaction that made the row
    started = time.monotonic()
    renditions = _build_ladder(lease, probe, source_key)
    _publish(lease, renditions, time.monotonic() - started)


def _build_ladder(lease: Lease, probe: ProbeResult, source_key: str) -> list[dict[str, int]]:
    settings, scratch = lease.ctx.settings, lease.scratch
    plan = plan_ladder(probe, settings.ladder_heights, settings.segment_seconds)
    (scratch / "thumbs").mkdir()
    with lease.ctx.store.local_copy(source_key) as source:
        command = ladder_command(source, scratch, probe, plan, settings.segment_seconds, settings.x264_preset)
        run_ffmpeg(command, on_progress=lambda done_s: lease.heartbeat(done_s / probe.duration_s))
    write_thumbnail_track(scratch, plan, probe.duration_s)
    return check_ladder(scratch, plan, probe.duration_s)


def _publish(lease: Lease, renditions: list[dict[str, int]], took_s: float) -> None:
    store, video_id = lease.ctx.store, lease.row_id
    key = f"{output_prefix(video_id)}/hls-{lease.token[:12]}"
    store.publish_dir(lease.scratch, key, last="master.m3u8")
    try:
        lease.renew_now(
            status=VideoStatus.ready.value,
            progress=1.0,
            output_key=key,
            renditions=renditions,
            error=None,
            ready_at=clock.now(),
            transcode_seconds=round(took_s, 3),
        )
    except LeaseLost:
        store.delete(key)
        raise
    # Ladders from interrupted attempts that got as far as publishing are never referenced: remove them.
    for sibling in store.children(output_prefix(video_id)):
        if sibling.startswith("hls-") and sibling != key.rsplit("/", 1)[1]:
            store.delete(f"{output_prefix(video_id)}/{sibling}")


def _readable(exc: Exception) -> str:
    if isinstance(exc, FfmpegFailed):
        return f"The video could not be decoded; the file may be damaged or truncated ({exc.stderr_tail})."
    if isinstance(exc, LadderIncomplete):
        return f"The transcode was incomplete: {exc}."
    return f"Transcoding failed unexpectedly ({exc.__class__.__name__}: {exc})."
