"""Highlights: the three moments of a show that sold most, cut from its replay as clips of 15–30 s, each as it was
filmed (16:9) and upright for phones (9:16, cropped around the product's box where its tag has one, else the centre),
tagged with the product that sold most in it and published on the host's channel like any upload.

A moment is ranked by the units of the show's paid orders bought in it: an order placed from the show names the
stream time on the buyer's screen (else, in a flash sale of the show, when it was placed), which the replay's
segments turn into a second of the replay. A window runs from 15 s before a sale to 5 s after (a pitch comes before
the buying); the best window is taken, the windows overlapping it dropped, three times.

The job runs once the replay is made (and a sweep retries a show whose job was lost); `live_shows.highlights_at`
marks a show done, set in the transaction that records its clips, so two runs at once publish once.
"""

from __future__ import annotations

import logging
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from huey import crontab
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.commerce.models import FlashSale, Order, OrderItem
from vetrina.context import Context
from vetrina.errors import VetrinaError
from vetrina.jobs import job, periodic_job
from vetrina.live import hls
from vetrina.live.models import Highlight, LiveSegment, LiveShow
from vetrina.media import service as media
from vetrina.media.ffmpeg import ffmpeg_exe
from vetrina.media.models import Video
from vetrina.shoppable import service as shoppable
from vetrina.shoppable.models import ProductTag
from vetrina.shoppable.service import TagSpec

log = logging.getLogger(__name__)
HIGHLIGHTS_JOB = "live.highlights"
HOW_MANY = 3
CLIP_S = 20.0
SHORTEST_S = 15.0  # a replay shorter than this has no highlights
LEAD_S = 15.0  # how much of a clip comes before the sale it is cut around
WIDE, TALL = 16 / 9, 9 / 16


@dataclass(frozen=True)
class Sale:
    second: float  # on the replay's timeline
    product_id: int
    units: int


@dataclass(frozen=True)
class Moment:
    start_s: float
    end_s: float
    units: int
    product_id: int


def show_sales(session: Session, show_id: int, segments: list[hls.Segment]) -> list[Sale]:
    """The units of the show's paid orders, by product, at the replay seconds they were bought at (an order placed
    after the last frame is left out)."""
    in_sale = select(FlashSale.id).where(FlashSale.show_id == show_id)
    rows = session.execute(
        select(Order.source_stream_time, Order.created_at, OrderItem.product_id, func.sum(OrderItem.quantity))
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(
            or_(Order.source_show_id == show_id, Order.flash_sale_id.in_(in_sale)),
            Order.paid_at.is_not(None),
        )
        .group_by(Order.id, Order.source_stream_time, Order.created_at, OrderItem.product_id)
    ).all()
    sales = []
    for stream_time, created_at, product_id, units in rows:
        second = hls.replay_second(segments, stream_time or created_at)
        if second is not None:
            sales.append(Sale(second, product_id, int(units)))
    return sales


def best_moments(sales: list[Sale], duration_s: float, how_many: int = HOW_MANY) -> list[Moment]:
    """The windows of the replay that sold the most units, best first, none overlapping another."""
    if duration_s < SHORTEST_S or not sales:
        return []
    length = min(CLIP_S, duration_s)
    starts = sorted({min(max(0.0, sale.second - LEAD_S * length / CLIP_S), duration_s - length) for sale in sales})
    chosen: list[Moment] = []
    while len(chosen) < how_many:
        best: Moment | None = None
        for start in starts:
            if any(start < taken.end_s and taken.start_s < start + length for taken in chosen):
                continue
            inside = [sale for sale in sales if start <= sale.second < start + length]
            units = sum(sale.units for sale in inside)
            if units and (best is None or units > best.units):
                by_product: Counter[int] = Counter()
                for sale in inside:
                    by_product[sale.product_id] += sale.units
                product_id = max(by_product, key=lambda p: (by_product[p], -p))
                best = Moment(round(start, 3), round(start + length, 3), units, product_id)
        if best is None:
            break
        chosen.append(best)
    return chosen


# Cutting -----------------------------------------------------------------------------------------------------------


def _covering(segments: list[hls.Segment], start_s: float, end_s: float) -> tuple[list[hls.Segment], float]:
    """The segments that hold `start_s`..`end_s` of the replay, and where the first of them begins."""
    picked: list[hls.Segment] = []
    elapsed = first_at = 0.0
    for segment in segments:
        if elapsed + segment.duration_s > start_s and elapsed < end_s:
            if not picked:
                first_at = elapsed
            picked.append(segment)
        elapsed += segment.duration_s
    return picked, first_at


def _frame_filter(width: int, height: int, shape: float, box: dict[str, float] | None) -> tuple[str, int, int]:
    """The ffmpeg filter turning a `width`×`height` picture into `shape` (width / height), cropping around the box's
    centre (the picture's without one), or padding a picture too narrow; and the size it makes."""
    if abs(width / height - shape) < shape / 100:  # 854x480 is 16:9 to the pixel rounding
        return "null", width, height
    if width / height > shape:  # too wide: crop the sides
        crop_w = int(height * shape) // 2 * 2
        centre = (box["x"] + box["w"] / 2) * width if box else width / 2
        x = int(min(max(0.0, centre - crop_w / 2), width - crop_w))
        return f"crop={crop_w}:{height}:{x}:0", crop_w, height
    pad_w = int(height * shape + 1) // 2 * 2  # too narrow: bars at the sides
    return f"pad={pad_w}:{height}:(ow-iw)/2:0", pad_w, height


def tall_box(box: dict[str, float], width: int, filter_made: tuple[str, int, int]) -> dict[str, float] | None:
    """Where the product's box lies in the upright clip (None when the crop cut it off)."""
    spec, out_w, _ = filter_made
    if not spec.startswith("crop="):
        return box
    x_px = int(spec.split(":")[2])
    left = max(box["x"] * width, x_px)
    right = min((box["x"] + box["w"]) * width, x_px + out_w)
    if right - left < 1:
        return None
    return {"x": (left - x_px) / out_w, "y": box["y"], "w": (right - left) / out_w, "h": box["h"]}


def cut(
    ctx: Context,
    replay: Video,
    segments: list[hls.Segment],
    moment: Moment,
    shape: float,
    box: dict[str, float] | None,
    target: Path,
) -> tuple[str, int, int]:
    """Cut the moment from the replay's top rung into `target` (MP4) in `shape`; returns the filter used and the
    size made."""
    assert replay.output_key is not None
    rung = f"{replay.output_key}/{replay.renditions[0]['height']}p"
    picked, first_at = _covering(segments, moment.start_s, moment.end_s)
    scratch = target.parent / f"{target.stem}-parts"
    scratch.mkdir(parents=True, exist_ok=True)
    parts = []
    for segment in picked:
        with ctx.store.local_copy(f"{rung}/{hls.segment_name(segment.seq)}") as source:
            part = scratch / hls.segment_name(segment.seq)
            part.write_bytes(source.read_bytes())
            parts.append(part)
    made = _frame_filter(replay.width, replay.height, shape, box)
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    command += ["-ss", f"{moment.start_s - first_at:.3f}", "-i", "concat:" + "|".join(str(p) for p in parts)]
    command += ["-t", f"{moment.end_s - moment.start_s:.3f}", "-vf", made[0], "-c:v", "libx264", "-preset", "veryfast"]
    command += ["-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", str(target)]
    try:
        subprocess.run(command, check=True, timeout=300, capture_output=True)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
        scratch.rmdir()
    return made


# The job -----------------------------------------------------------------------------------------------------------


def _box_at(session: Session, video_id: int, product_id: int, moment: Moment) -> dict[str, float] | None:
    """The box of the product's tag on the replay over the moment, if the host drew one."""
    boxes = session.scalars(
        select(ProductTag.box).where(
            ProductTag.video_id == video_id,
            ProductTag.product_id == product_id,
            ProductTag.box.is_not(None),
            ProductTag.start_s < moment.end_s,
            ProductTag.end_s > moment.start_s,
        )
    ).all()
    return boxes[0] if boxes else None


@job(HIGHLIGHTS_JOB)
def make_highlights(ctx: Context, show_id: int) -> list[int]:
    """Cut and publish the show's highlights, once; returns the videos made."""
    with ctx.db.session() as session:
        show = session.get(LiveShow, show_id)
        if show is None or show.highlights_at is not None or show.replay_video_id is None:
            return []
        replay = session.get(Video, show.replay_video_id)
        if replay is None or replay.output_key is None:
            return []
        session.expunge(replay)
        rows = session.scalars(select(LiveSegment).where(LiveSegment.show_id == show_id).order_by(LiveSegment.seq))
        segments = [hls.Segment(r.seq, r.program_time, r.duration_s, r.discontinuity) for r in rows]
        moments = best_moments(show_sales(session, show_id, segments), replay.duration_s)
        boxes = {m.product_id: _box_at(session, replay.id, m.product_id, m) for m in moments}
        title = show.title
    work = ctx.store.work_root / f"highlights-{show_id}"
    work.mkdir(parents=True, exist_ok=True)
    clips: list[tuple[Moment, Path, Path, dict[str, float] | None]] = []
    for rank, moment in enumerate(moments, 1):
        box = boxes[moment.product_id]
        wide, tall = work / f"{rank}-wide.mp4", work / f"{rank}-tall.mp4"
        try:
            cut(ctx, replay, segments, moment, WIDE, box, wide)
            made = cut(ctx, replay, segments, moment, TALL, box, tall)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as failed:
            # A segment gone or unreadable: this moment is left out, not retried for ever.
            log.warning("live show %s: highlight %d could not be cut: %s", show_id, rank, failed)
            continue
        clips.append((moment, wide, tall, tall_box(box, replay.width, made) if box else None))
    try:
        return _publish(ctx, show_id, title, clips, box_of=boxes)
    finally:
        for path in work.iterdir():
            path.unlink(missing_ok=True)
        work.rmdir()


def _publish(
    ctx: Context,
    show_id: int,
    title: str,
    clips: list[tuple[Moment, Path, Path, dict[str, float] | None]],
    box_of: dict[int, dict[str, float] | None],
) -> list[int]:
    made: list[int] = []
    with ctx.db.session(write=True) as session:
        show = session.get(LiveShow, show_id, with_for_update=True)
        if show is None or show.highlights_at is not None:
            return []  # another run published them meanwhile
        host = session.get_one(User, show.host_id)
        for rank, (moment, wide, tall, upright_box) in enumerate(clips, 1):
            row = Highlight(
                show_id=show_id,
                rank=rank,
                start_s=moment.start_s,
                end_s=moment.end_s,
                product_id=moment.product_id,
                units=moment.units,
                created_at=clock.now(),
            )
            for path, suffix, box in ((wide, "", box_of[moment.product_id]), (tall, " (vertical)", upright_box)):
                video = media.create_video(
                    ctx,
                    session,
                    host,
                    title=f"{title}: highlight {rank}{suffix}"[:200],
                    description=f"{moment.units} sold in these seconds of the live show.",
                    upload=path,
                    filename="highlight.mp4",
                )
                session.flush()
                _tag(ctx, session, video, host, moment.product_id, box)
                made.append(video.id)
                if suffix:
                    row.tall_video_id = video.id
                else:
                    row.wide_video_id = video.id
            session.add(row)
        show.highlights_at = clock.now()
    log.info("live show %s: %d highlights published (videos %s)", show_id, len(clips), made)
    return made


def _tag(
    ctx: Context, session: Session, video: Video, host: User, product_id: int, box: dict[str, float] | None
) -> None:
    spec = TagSpec(product_id=product_id, start_s=0.0, end_s=video.duration_s, box=box, label="Sold live")
    try:
        with session.begin_nested():
            shoppable.create_tag(ctx, session, video.id, host, spec)
    except VetrinaError as refused:  # the product was deleted since: the clip goes out untagged
        log.info("highlight video %s: tag of product %s left out: %s", video.id, product_id, refused)


@periodic_job("live.highlights_sweep", crontab(minute="*/5"))
def sweep_highlights(ctx: Context) -> int:
    """Queue the highlights of shows whose replay was made a while ago but whose highlights never were (a job
    lost with its worker); returns how many."""
    cutoff = clock.now() - timedelta(minutes=5)
    with ctx.db.session() as session:
        shows = session.scalars(
            select(LiveShow.id).where(
                LiveShow.replay_video_id.is_not(None),
                LiveShow.highlights_at.is_(None),
                LiveShow.replay_made_at < cutoff,
            )
        ).all()
    for show_id in shows:
        ctx.queue.enqueue(HIGHLIGHTS_JOB, show_id)
    return len(shows)


def highlights(session: Session, show_id: int) -> list[dict[str, Any]]:
    """The show's highlights, best first."""
    rows = session.scalars(select(Highlight).where(Highlight.show_id == show_id).order_by(Highlight.rank))
    return [
        {
            "rank": h.rank,
            "start_s": h.start_s,
            "end_s": h.end_s,
            "product_id": h.product_id,
            "units": h.units,
            "wide_video_id": h.wide_video_id,
            "tall_video_id": h.tall_video_id,
        }
        for h in rows
    ]
