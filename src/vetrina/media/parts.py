"""The parts of a chunked transcode: planning them, encoding one, and joining them into one ladder.

A long source is cut into spans on the segment grid (`VETRINA_TRANSCODE_CHUNK_SECONDS`); each span's whole ladder
is one part, and the audio of the whole file another. Each part writes its segments straight under the ladder's
key, numbered and timed as in the whole film: keyframes are forced on the segment grid and every span starts on
it, so the joins fall between segments, and no join cuts the audio. Nothing there is reachable until the join
writes the playlists, the master last, and the video row names the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.context import Context
from vetrina.errors import Busy
from vetrina.i18n import _
from vetrina.leases import Lease, LeaseLost
from vetrina.media.ffmpeg import run_ffmpeg
from vetrina.media.ladder import (
    AUDIO_DIR,
    MASTER_PLAYLIST,
    POSTER,
    THUMBS_VTT,
    LadderIncomplete,
    Span,
    audio_command,
    chunk_command,
    master_playlist,
    media_playlist,
    plan_ladder,
    plan_spans,
    read_part,
    read_part_codecs,
    thumbnail_indexes,
    thumbnail_track,
)
from vetrina.media.models import AUDIO_PART, ChunkStatus, TranscodeChunk, Video, VideoStatus
from vetrina.media.probe import ProbeResult
from vetrina.settings import Settings

log = logging.getLogger(__name__)
# The audio's share of a video's progress: encoding it costs a small fraction of encoding the picture.
_AUDIO_WEIGHT = 0.05


def is_chunked(settings: Settings, duration_s: float) -> bool:
    """Long sources go in parts; short ones keep the one pass (a part's start-up would cost more than it saves)."""
    return settings.transcode_chunk_seconds > 0 and duration_s > 2 * settings.transcode_chunk_seconds


def probe_of(video: Video) -> ProbeResult:
    """What the upload's probe found, as the video row keeps it."""
    return ProbeResult(
        duration_s=video.duration_s,
        width=video.width,
        height=video.height,
        frame_rate=video.frame_rate,
        has_audio=video.has_audio,
        format_name="",
    )


def plan_parts(video_id: int, key: str, probe: ProbeResult, chunk_seconds: int, now: datetime) -> list[TranscodeChunk]:
    """The parts of one video's transcode, the audio first (it is short, and every variant needs it)."""
    spans = [(AUDIO_PART, Span(0.0, probe.duration_s, True))] if probe.has_audio else []
    spans += list(enumerate(plan_spans(probe.duration_s, chunk_seconds)))
    return [
        TranscodeChunk(
            video_id=video_id,
            part=part,
            start_s=span.start_s,
            duration_s=span.duration_s,
            until_end=span.until_end,
            output_key=key,
            result={},
            created_at=now,
            status=ChunkStatus.queued.value,
            progress=0.0,
            attempts=0,
        )
        for part, span in spans
    ]


@dataclass(frozen=True)
class SettledPart:
    part: int
    status: str
    error: str | None
    result: dict[str, Any]
    output_key: str
    planned_at: datetime


def settled_parts(session: Session, video_id: int) -> list[SettledPart]:
    rows = session.scalars(
        select(TranscodeChunk).where(TranscodeChunk.video_id == video_id).order_by(TranscodeChunk.part)
    )
    return [SettledPart(r.part, r.status, r.error, r.result, r.output_key, r.created_at) for r in rows]


def encode_part(lease: Lease) -> None:
    """Encode the leased part and store its segments (not its playlists: the join writes those)."""
    ctx, settings = lease.ctx, lease.ctx.settings
    with ctx.db.session() as session:
        part = lease.get(session, TranscodeChunk)
        video = session.get(Video, part.video_id)
        if video is None or video.source_key is None:
            raise LeaseLost(f"the video of part {part.id} was deleted")
        probe, source_key, video_id = probe_of(video), video.source_key, video.id
        number, key, span = part.part, part.output_key, Span(part.start_s, part.duration_s, part.until_end)
    plan = plan_ladder(probe, settings.ladder_heights, settings.segment_seconds)
    scratch = lease.scratch

    def beat(done_s: float) -> None:
        if lease.heartbeat(done_s / max(span.duration_s, 0.001)):
            try:
                report_progress(ctx, video_id)
            except (OperationalError, Busy) as exc:  # a busy database costs a progress report, not the part
                log.warning("video %s: progress not reported (%s)", video_id, exc)

    with ctx.store.shared_copy(source_key) as source:
        if number == AUDIO_PART:
            (scratch / AUDIO_DIR).mkdir()
            command = audio_command(source, scratch, settings.segment_seconds)
        else:
            (scratch / "thumbs").mkdir()
            command = chunk_command(source, scratch, probe, plan, settings.segment_seconds, settings.x264_preset, span)
        run_ffmpeg(command, on_progress=beat)
    result = _checked_output(lease, number, span, [r.name for r in plan.renditions])
    for path in sorted(scratch.rglob("*")):
        if path.is_file() and path.suffix != ".m3u8":
            ctx.store.put_file(path, f"{key}/{path.relative_to(scratch).as_posix()}")
    try:
        lease.renew_now(status=ChunkStatus.done.value, progress=1.0, result=result, error=None)
    except LeaseLost:
        with ctx.db.session() as session:
            deleted = session.get(Video, video_id) is None
        if deleted:  # its files went with it, before this part's arrived: these go too
            ctx.store.delete(key)
        raise


def _checked_output(lease: Lease, number: int, span: Span, renditions: list[str]) -> dict[str, Any]:
    """What the part wrote, checked: every span but the last fills its segments exactly, and none is cut short."""
    scratch, segment_s = lease.scratch, lease.ctx.settings.segment_seconds
    if number == AUDIO_PART:
        written = {AUDIO_DIR: read_part(scratch, AUDIO_DIR)}
    else:
        written = {name: read_part(scratch, name) for name in renditions}
    for name, segments in written.items():
        media_s = sum(seconds for _, seconds, _ in segments)
        if number == AUDIO_PART:
            if not segments:  # a sound track may end before the picture (the one pass never asked more)
                raise LadderIncomplete(_("the audio could not be decoded"))
            continue
        if not span.until_end and len(segments) != round(span.duration_s / segment_s):
            raise LadderIncomplete(
                _(
                    "the {name} rendition from {start_s:.0f} s has {found} segments, not {expected}",
                    name=name,
                    start_s=span.start_s,
                    found=len(segments),
                    expected=round(span.duration_s / segment_s),
                )
            )
        if media_s < span.duration_s * 0.9 - 0.5:
            raise LadderIncomplete(
                _(
                    "only {media_s:.1f} s of the {duration_s:.1f} s from {start_s:.0f} s could be decoded; "
                    "the file is truncated or damaged",
                    media_s=media_s,
                    duration_s=span.duration_s,
                    start_s=span.start_s,
                )
            )
    if number == AUDIO_PART:
        return {"renditions": written}
    return {
        "renditions": written,
        "codecs": read_part_codecs(scratch),
        "thumbnails": thumbnail_indexes(scratch),
    }


def report_progress(ctx: Context, video_id: int) -> None:
    """The video's progress, summed over its parts (weighted by the work each is); also its heartbeat, which
    keeps it from looking stalled while its parts are encoded."""
    with ctx.db.session(write=True) as session:
        rows = session.execute(
            select(
                TranscodeChunk.part, TranscodeChunk.status, TranscodeChunk.progress, TranscodeChunk.duration_s
            ).where(TranscodeChunk.video_id == video_id)
        ).all()
        weights = [r.duration_s * (_AUDIO_WEIGHT if r.part == AUDIO_PART else 1.0) for r in rows]
        done = [1.0 if r.status == ChunkStatus.done else r.progress for r in rows]
        progress = sum(w * d for w, d in zip(weights, done, strict=True)) / max(sum(weights), 0.001)
        session.execute(
            update(Video)
            .where(Video.id == video_id, Video.lease_token.is_(None), Video.status == VideoStatus.processing.value)
            .values(progress=round(min(progress, 0.99), 4), heartbeat_at=clock.now())
            .execution_options(synchronize_session=False)
        )


def join_parts(lease: Lease, probe: ProbeResult, parts: list[SettledPart]) -> tuple[str, list[dict[str, int]]]:
    """Write the ladder's playlists and seek-thumbnail track over the parts' segments, the master last; the
    ladder's key and its renditions."""
    ctx, settings, scratch = lease.ctx, lease.ctx.settings, lease.scratch
    plan = plan_ladder(probe, settings.ladder_heights, settings.segment_seconds)
    video: dict[str, list[list[Any]]] = {r.name: [] for r in plan.renditions}
    codecs: dict[str, str] = {}
    audio, thumbnails = None, set[int]()
    for part in parts:
        if part.part == AUDIO_PART:
            audio = part.result["renditions"][AUDIO_DIR]
            continue
        for name, segments in video.items():
            segments += part.result["renditions"][name]
        codecs = codecs or part.result["codecs"]
        thumbnails.update(part.result["thumbnails"])
    for name, segments in video.items():
        names = [segment[0] for segment in segments]
        if len(set(names)) != len(names) or names != sorted(names):
            raise LadderIncomplete(_("the parts of the {name} rendition overlap", name=name))
        if sum(seconds for _, seconds, _ in segments) < probe.duration_s * 0.9 - 0.5:
            raise LadderIncomplete(_("the parts of the {name} rendition do not cover the video", name=name))
    master, renditions = master_playlist(plan.renditions, video, codecs, audio)
    playlists = {f"{name}/index.m3u8": media_playlist(segments) for name, segments in video.items()}
    if audio:
        playlists[f"{AUDIO_DIR}/index.m3u8"] = media_playlist(audio)
    playlists[THUMBS_VTT] = thumbnail_track(plan, probe.duration_s, thumbnails)
    key = parts[0].output_key
    if not ctx.store.exists(f"{key}/{POSTER}"):
        raise LadderIncomplete(_("no part wrote the poster"))
    for name, text in [*playlists.items(), (MASTER_PLAYLIST, master)]:
        path = scratch / name.replace("/", "_")
        path.write_text(text)
        ctx.store.put_file(path, f"{key}/{name}")
    return key, renditions
