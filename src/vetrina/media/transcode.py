"""The transcode jobs: lease the video, make its ladder, publish all of it or none of it.

A video is transcoded by whoever holds its lease. The holder renews the lease with each progress
heartbeat; a worker that dies stops renewing, and the stalled-work sweep (`leases.requeue_stalled`) hands
the video to another worker after `lease_stall_seconds`.

A short source goes in one pass: the ladder is written to a scratch directory and published as a set, its master
playlist last, so a crash never leaves a partial ladder where a player can see it. A long one goes in parts
(media/parts.py): the video's job plans them and hands its lease off; each part is a job of its own, leased like
any other work, so whichever worker is free takes it and a worker that dies loses only its part. The part that
settles last wakes the video's job, which joins them, or fails the video with the part's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.context import Context
from vetrina.i18n import _, said_by
from vetrina.leases import Lease, LeaseLost, Outcome, leased_job, run_under_lease
from vetrina.media.ffmpeg import FfmpegFailed, run_ffmpeg
from vetrina.media.ladder import (
    LadderIncomplete,
    check_ladder,
    ladder_command,
    plan_ladder,
    write_thumbnail_track,
)
from vetrina.media.models import ChunkStatus, TranscodeChunk, Video, VideoStatus
from vetrina.media.parts import encode_part, is_chunked, join_parts, plan_parts, probe_of, settled_parts
from vetrina.media.probe import ProbeResult

TRANSCODE_JOB = "media.transcode"
PART_JOB = "media.transcode_part"
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
        expected=(FfmpegFailed, LadderIncomplete, PartFailed),
        scratch=f"video-{video_id}",
    )


def _transcode(lease: Lease) -> None:
    with lease.ctx.db.session() as session:
        video = lease.get(session, Video)
        probe, source_key = probe_of(video), video.source_key
        # Once planned, a video stays in parts, whatever this worker's own setting says.
        planned = session.scalar(select(TranscodeChunk.id).where(TranscodeChunk.video_id == video.id).limit(1))
    assert source_key is not None  # set by create_video in the transaction that made the row
    if planned is not None or is_chunked(lease.ctx.settings, probe.duration_s):
        _advance_in_parts(lease, probe)
        return
    started = time.monotonic()
    renditions = _build_ladder(lease, probe, source_key)
    key = f"{output_prefix(lease.row_id)}/hls-{lease.token[:12]}"
    lease.ctx.store.publish_dir(lease.scratch, key, last="master.m3u8")
    _publish(lease, key, renditions, time.monotonic() - started, on_lost=lambda: lease.ctx.store.delete(key))


class PartFailed(RuntimeError):
    """A part of a chunked transcode failed for good."""


def _advance_in_parts(lease: Lease, probe: ProbeResult) -> None:
    """The video's job in a chunked transcode: plan the parts and hand the lease off to them; or, once every part
    has settled, join them (or fail the video with a failed part's error)."""
    ctx, video_id = lease.ctx, lease.row_id
    failed = None
    with ctx.db.session(write=True) as session:
        _lock_video(session, video_id)
        parts = settled_parts(session, video_id)
        if not parts:
            key = f"{output_prefix(video_id)}/hls-{lease.token[:12]}"
            planned = plan_parts(video_id, key, probe, ctx.settings.transcode_chunk_seconds, clock.now())
            session.add_all(planned)
            session.flush()
            for part in planned:
                ctx.queue.enqueue_after_commit(session, PART_JOB, part.id)
            lease.hand_off(session)
            return
        failed = next((part for part in parts if part.status == ChunkStatus.failed), None)
        if failed is not None:
            # The rest need not be encoded: those still at work lose their lease at their next heartbeat.
            session.execute(
                update(TranscodeChunk)
                .where(TranscodeChunk.video_id == video_id, TranscodeChunk.status.in_(_UNSETTLED))
                .values(status=ChunkStatus.failed.value, error=_("Another part of the video failed."))
                .execution_options(synchronize_session=False)
            )
        elif any(part.status != ChunkStatus.done for part in parts):
            lease.hand_off(session)  # woken early (by the sweep, say): the parts carry on
            return
    if failed is not None:
        raise PartFailed(failed.error or _("a part of the transcode failed"))
    key, renditions = join_parts(lease, probe, parts)
    took_s = (clock.now() - parts[0].planned_at).total_seconds()  # from the plan to the join: every part's time
    _publish(lease, key, renditions, took_s, on_lost=lambda: None)


@leased_job(PART_JOB, TranscodeChunk, never_claimed_after=NEVER_CLAIMED_AFTER)
def transcode_part(ctx: Context, part_id: int) -> None:
    """Encode one part of a chunked transcode; the part that settles last wakes its video's job."""
    outcome = run_under_lease(
        ctx,
        TranscodeChunk,
        part_id,
        encode_part,
        explain=_readable,
        expected=(FfmpegFailed, LadderIncomplete),
        scratch=f"part-{part_id}",
    )
    if outcome not in (Outcome.lost, Outcome.deferred):
        _wake_video_when_settled(ctx, part_id)


def _wake_video_when_settled(ctx: Context, part_id: int) -> None:
    """When none of the video's parts is left to encode, make the video takeable at once and queue its job."""
    with ctx.db.session(write=True) as session:
        video_id = session.scalar(select(TranscodeChunk.video_id).where(TranscodeChunk.id == part_id))
        if video_id is None:
            return  # the video was deleted
        _lock_video(session, video_id)
        left = session.scalar(
            select(func.count())
            .select_from(TranscodeChunk)
            .where(TranscodeChunk.video_id == video_id, TranscodeChunk.status.in_(_UNSETTLED))
        )
        if left:
            return
        session.execute(
            update(Video)
            .where(Video.id == video_id, Video.lease_token.is_(None), Video.status == VideoStatus.processing.value)
            .values(heartbeat_at=None)
            .execution_options(synchronize_session=False)
        )
        ctx.queue.enqueue_after_commit(session, TRANSCODE_JOB, video_id)


_UNSETTLED = (ChunkStatus.queued.value, ChunkStatus.encoding.value)


def _lock_video(session: Session, video_id: int) -> None:
    """Take the video's row lock (PostgreSQL; SQLite has one writer anyway), so that the video's job reading its
    parts and the last part's wake-up happen one after the other: a part that ends while the job hands the lease
    off still finds the lease free to clear, and the job that reads after it sees it done."""
    session.execute(select(Video.id).where(Video.id == video_id).with_for_update())


def _build_ladder(lease: Lease, probe: ProbeResult, source_key: str) -> list[dict[str, int]]:
    settings, scratch = lease.ctx.settings, lease.scratch
    plan = plan_ladder(probe, settings.ladder_heights, settings.segment_seconds)
    (scratch / "thumbs").mkdir()
    with lease.ctx.store.local_copy(source_key) as source:
        command = ladder_command(source, scratch, probe, plan, settings.segment_seconds, settings.x264_preset)
        run_ffmpeg(command, on_progress=lambda done_s: lease.heartbeat(done_s / probe.duration_s))
    write_thumbnail_track(scratch, plan, probe.duration_s)
    return check_ladder(scratch, plan, probe.duration_s)


def _publish(
    lease: Lease, key: str, renditions: list[dict[str, int]], took_s: float, on_lost: Callable[[], None]
) -> None:
    """Mark the video ready on the ladder at `key` (already stored); its parts' rows go with it."""
    store, video_id = lease.ctx.store, lease.row_id
    try:
        with lease.ctx.db.session(write=True) as session:
            lease.renew(
                session,
                status=VideoStatus.ready.value,
                progress=1.0,
                output_key=key,
                renditions=renditions,
                error=None,
                ready_at=clock.now(),
                transcode_seconds=round(took_s, 3),
            )
            session.execute(delete(TranscodeChunk).where(TranscodeChunk.video_id == video_id))
    except LeaseLost:
        on_lost()
        raise
    # Ladders from interrupted attempts that got as far as publishing are never referenced: remove them.
    for sibling in store.children(output_prefix(video_id)):
        if sibling.startswith("hls-") and sibling != key.rsplit("/", 1)[1]:
            store.delete(f"{output_prefix(video_id)}/{sibling}")


def _readable(exc: Exception) -> str:
    if isinstance(exc, FfmpegFailed):
        return _(
            "The video could not be decoded; the file may be damaged or truncated ({details}).",
            details=exc.stderr_tail,
        )
    if isinstance(exc, LadderIncomplete):
        return _("The transcode was incomplete: {reason}.", reason=exc.args[0] if exc.args else str(exc))
    if isinstance(exc, PartFailed):
        return said_by(exc)
    return _("Transcoding failed unexpectedly ({kind}: {error}).", kind=exc.__class__.__name__, error=str(exc))
