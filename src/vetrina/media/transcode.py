"""The transcode job: lease the video, run the one-pass ladder, publish all of it or none of it.

A video is transcoded by whoever holds its lease. The holder renews the lease with each progress
heartbeat; a worker that dies stops renewing, and the stalled-transcode sweep hands the video to
another worker after `transcode_stall_seconds`. The ladder is written to a scratch directory and
published with one rename, so a crash never leaves a partial ladder where a player can see it.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from datetime import datetime, timedelta
from typing import Any

from huey import crontab
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import OperationalError

from vetrina import clock
from vetrina.context import Context
from vetrina.jobs import job, periodic_job
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

log = logging.getLogger(__name__)
TRANSCODE_JOB = "media.transcode"
_HEARTBEAT_EVERY_S = 1.0
NEVER_CLAIMED_AFTER = timedelta(hours=1)


class LeaseLost(RuntimeError):
    """Another worker took this video over; stop without touching it."""


def output_prefix(video_id: int) -> str:
    return f"videos/{video_id}"


def _claim(ctx: Context, video_id: int) -> str | None:
    """Take the video's lease if nobody live holds it; None if it is done, failed, or in other hands."""
    token = secrets.token_hex(16)
    now = clock.now()
    stale_before = now - timedelta(seconds=ctx.settings.transcode_stall_seconds)
    nobody_live = or_(Video.heartbeat_at.is_(None), Video.heartbeat_at < stale_before)
    with ctx.db.session(write=True) as session:
        claimed = session.execute(
            update(Video)
            .where(
                Video.id == video_id,
                Video.status == VideoStatus.processing.value,
                Video.attempts < ctx.settings.max_transcode_attempts,
                nobody_live,
            )
            .values(lease_token=token, heartbeat_at=now, attempts=Video.attempts + 1, progress=0.0)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            return token
        # Out of attempts, and its last worker is gone too: give up (a live last attempt is left alone).
        session.execute(
            update(Video)
            .where(
                Video.id == video_id,
                Video.status == VideoStatus.processing.value,
                Video.attempts >= ctx.settings.max_transcode_attempts,
                nobody_live,
            )
            .values(
                status=VideoStatus.failed.value,
                error=f"Transcoding stopped after {ctx.settings.max_transcode_attempts} interrupted attempts.",
            )
            .execution_options(synchronize_session=False)
        )
    return None


def _renew(ctx: Context, video_id: int, token: str, values: dict[str, Any]) -> None:
    with ctx.db.session(write=True) as session:
        renewed = session.execute(
            update(Video)
            .where(Video.id == video_id, Video.lease_token == token, Video.status == VideoStatus.processing.value)
            .values(heartbeat_at=clock.now(), **values)
            .execution_options(synchronize_session=False)
        ).rowcount
    if not renewed:
        raise LeaseLost(f"video {video_id} was taken over")


@job(TRANSCODE_JOB)
def transcode_video(ctx: Context, video_id: int) -> None:
    """Transcode one uploaded video into its HLS ladder, poster and seek thumbnails."""
    token = _claim(ctx, video_id)
    if token is None:
        return
    with ctx.db.session() as session:
        video = session.get(Video, video_id)
        probe = ProbeResult(
            duration_s=video.duration_s,
            width=video.width,
            height=video.height,
            frame_rate=video.frame_rate,
            has_audio=video.has_audio,
            format_name="",
        )
        source_key = video.source_key
    for stale in (ctx.store.root / ".work").glob(f"video-{video_id}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    scratch = ctx.store.scratch_dir(f"video-{video_id}-{token[:12]}")
    started = time.monotonic()
    try:
        renditions = _build_ladder(ctx, video_id, token, probe, source_key, scratch)
        _publish(ctx, video_id, token, scratch, renditions, time.monotonic() - started)
    except LeaseLost:
        log.info("video %s: lease lost, leaving it to its new worker", video_id)
    except (FfmpegFailed, LadderIncomplete) as exc:
        _fail(ctx, video_id, token, _readable(exc))
    except Exception as exc:
        log.exception("video %s: transcode failed", video_id)
        _fail(ctx, video_id, token, f"Transcoding failed unexpectedly ({exc.__class__.__name__}: {exc}).")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _build_ladder(
    ctx: Context, video_id: int, token: str, probe: ProbeResult, source_key: str, scratch: Any
) -> list[dict[str, int]]:
    settings = ctx.settings
    plan = plan_ladder(probe, settings.ladder_heights, settings.segment_seconds)
    (scratch / "thumbs").mkdir()
    last_beat = 0.0

    def on_progress(done_s: float) -> None:
        nonlocal last_beat
        if time.monotonic() - last_beat >= _HEARTBEAT_EVERY_S:
            last_beat = time.monotonic()
            try:
                _renew(ctx, video_id, token, {"progress": round(min(done_s / probe.duration_s, 0.99), 4)})
            except OperationalError as exc:
                # A busy database costs one heartbeat, not the transcode; the next one may get through.
                log.warning("video %s: heartbeat skipped (%s)", video_id, exc)

    command = ladder_command(
        ctx.store.path(source_key), scratch, probe, plan, settings.segment_seconds, settings.x264_preset
    )
    run_ffmpeg(command, on_progress=on_progress)
    write_thumbnail_track(scratch, plan, probe.duration_s)
    return check_ladder(scratch, plan, probe.duration_s)


def _publish(
    ctx: Context, video_id: int, token: str, scratch: Any, renditions: list[dict[str, int]], took_s: float
) -> None:
    key = f"{output_prefix(video_id)}/hls-{token[:12]}"
    ctx.store.publish_dir(scratch, key)
    try:
        _renew(
            ctx,
            video_id,
            token,
            {
                "status": VideoStatus.ready.value,
                "progress": 1.0,
                "output_key": key,
                "renditions": renditions,
                "error": None,
                "ready_at": clock.now(),
                "transcode_seconds": round(took_s, 3),
            },
        )
    except LeaseLost:
        ctx.store.delete(key)
        raise
    # Ladders from interrupted attempts that got as far as publishing are never referenced: remove them.
    for sibling in ctx.store.path(output_prefix(video_id)).glob("hls-*"):
        if sibling.name != key.rsplit("/", 1)[1]:
            shutil.rmtree(sibling, ignore_errors=True)


def _fail(ctx: Context, video_id: int, token: str, reason: str) -> None:
    try:
        _renew(ctx, video_id, token, {"status": VideoStatus.failed.value, "error": reason})
    except LeaseLost:
        return
    log.warning("video %s failed: %s", video_id, reason)


def _readable(exc: Exception) -> str:
    if isinstance(exc, FfmpegFailed):
        return f"The video could not be decoded; the file may be damaged or truncated ({exc.stderr_tail})."
    return f"The transcode was incomplete: {exc}."


def requeue_stalled(ctx: Context, now: datetime | None = None) -> list[int]:
    """Enqueue every processing video whose worker has gone quiet; returns their ids.

    A video never claimed at all is only requeued after NEVER_CLAIMED_AFTER: until then it is most
    likely waiting its turn in the queue, and a second task would only be a duplicate."""
    now = now or clock.now()
    stale_before = now - timedelta(seconds=ctx.settings.transcode_stall_seconds)
    with ctx.db.session() as session:
        ids = list(
            session.scalars(
                select(Video.id).where(
                    Video.status == VideoStatus.processing.value,
                    or_(
                        Video.heartbeat_at < stale_before,
                        and_(Video.heartbeat_at.is_(None), Video.created_at < now - NEVER_CLAIMED_AFTER),
                    ),
                )
            )
        )
    for video_id in ids:
        ctx.queue.enqueue(TRANSCODE_JOB, video_id)
    return ids


@periodic_job("media.requeue_stalled", crontab(minute="*"))
def requeue_stalled_job(ctx: Context) -> None:
    requeued = requeue_stalled(ctx)
    if requeued:
        log.info("requeued stalled transcodes: %s", requeued)
