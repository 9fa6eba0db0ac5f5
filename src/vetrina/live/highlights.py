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
import shutil
import subprocess
import tempfile
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from huey import crontab
from sqlalchemy import and_, func, or_, select
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
GIVE_UP_AFTER = timedelta(days=1)
Box = dict[str, float]  # x, y, w, h: fractions of the picture


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


def show_orders(show_id: int) -> Any:
    """The condition on `Order` of the show's paid orders: those that name it, and those in its flash sales that
    name no show (an order counts for one show only)."""
    in_sale = select(FlashSale.id).where(FlashSale.show_id == show_id)
    named = Order.source_show_id == show_id
    return and_(
        or_(named, and_(Order.source_show_id.is_(None), Order.flash_sale_id.in_(in_sale))), Order.paid_at.is_not(None)
    )


def show_sales(session: Session, show_id: int, segments: list[hls.Segment]) -> list[Sale]:
    """The units of the show's paid orders, by product, at the replay seconds they were bought at (an order placed
    after the last frame is left out)."""
    rows = session.execute(
        select(Order.source_stream_time, Order.created_at, OrderItem.product_id, func.sum(OrderItem.quantity))
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(show_orders(show_id))
        .group_by(Order.id, Order.source_stream_time, Order.created_at, OrderItem.product_id)
    ).all()
    sales = []
    for stream_time, created_at, product_id, units in rows:
        second = hls.replay_second(segments, stream_time or created_at)
        if second is not None:
            sales.append(Sale(second, product_id, int(units)))
    return sales


def best_moments(sales: list[Sale], duration_s: float, how_many: int = HOW_MANY) -> list[Moment]:
    """The windows of the replay that sold the most units, best first, none overlapping another (a window's units
    from prefix sums over the sales in time order: a show of many orders costs n log n, not n squared)."""
    if duration_s < SHORTEST_S or not sales:
        return []
    length = min(CLIP_S, duration_s)
    ordered = sorted(sales, key=lambda sale: sale.second)
    seconds = [sale.second for sale in ordered]
    prefix = [0, *accumulate(sale.units for sale in ordered)]

    def inside(start: float) -> tuple[int, int]:
        return bisect_left(seconds, start), bisect_left(seconds, start + length)

    starts = sorted({min(max(0.0, second - LEAD_S * length / CLIP_S), duration_s - length) for second in seconds})
    windows = sorted(
        ((prefix[last] - prefix[first], start) for start in starts for first, last in [inside(start)]),
        key=lambda window: (-window[0], window[1]),
    )
    chosen: list[Moment] = []
    for units, start in windows:
        if len(chosen) == how_many or units == 0:
            break
        if any(start < taken.end_s and taken.start_s < start + length for taken in chosen):
            continue
        first, last = inside(start)
        by_product: Counter[int] = Counter()
        for sale in ordered[first:last]:
            by_product[sale.product_id] += sale.units
        product_id = max(by_product, key=lambda p: (by_product[p], -p))
        chosen.append(Moment(round(start, 3), round(start + length, 3), units, product_id))
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


@dataclass(frozen=True)
class Framing:
    """How a clip's picture is made from the replay's: an ffmpeg filter, and where the replay's picture lands in it
    (`left` px from the clip's left edge, negative when cropped), the clip's width and the replay's."""

    filter: str
    left: int
    width: int
    source_width: int

    def box(self, box: Box | None) -> Box | None:
        """The replay's box (fractions of its picture) in the clip's picture; None when cropped off."""
        if box is None:
            return None
        left = max(0.0, self.left + box["x"] * self.source_width)
        right = min(float(self.width), self.left + (box["x"] + box["w"]) * self.source_width)
        if right - left < 1:
            return None
        return {"x": left / self.width, "y": box["y"], "w": (right - left) / self.width, "h": box["h"]}


def framing(width: int, height: int, shape: float, box: Box | None) -> Framing:
    """`shape` (width / height) from a `width`×`height` picture: cropped at the sides around the box's centre (the
    picture's without one), or padded at the sides when too narrow."""
    if abs(width / height - shape) < shape / 100:  # 854x480 is 16:9 to the pixel rounding
        return Framing("null", 0, width, width)
    if width / height > shape:
        crop_w = int(height * shape) // 2 * 2
        centre = (box["x"] + box["w"] / 2) * width if box else width / 2
        x = int(min(max(0.0, centre - crop_w / 2), width - crop_w))
        return Framing(f"crop={crop_w}:{height}:{x}:0", -x, crop_w, width)
    pad_w = int(height * shape + 1) // 2 * 2
    return Framing(f"pad={pad_w}:{height}:{(pad_w - width) // 2}:0", (pad_w - width) // 2, pad_w, width)


def cut(ctx: Context, replay: Video, segments: list[hls.Segment], moment: Moment, made: Framing, target: Path) -> None:
    """Cut the moment from the replay's top rung into `target` (MP4), framed as `made` says."""
    assert replay.output_key is not None
    rung = f"{replay.output_key}/{replay.renditions[0]['height']}p"
    picked, first_at = _covering(segments, moment.start_s, moment.end_s)
    scratch = target.parent / f"{target.stem}-parts"
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        parts = []
        for segment in picked:
            with ctx.store.local_copy(f"{rung}/{hls.segment_name(segment.seq)}") as source:
                part = scratch / hls.segment_name(segment.seq)
                shutil.copyfile(source, part)
                parts.append(part)
        command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        command += ["-ss", f"{moment.start_s - first_at:.3f}", "-i", "concat:" + "|".join(str(p) for p in parts)]
        command += ["-t", f"{moment.end_s - moment.start_s:.3f}", "-vf", made.filter, "-c:v", "libx264"]
        command += ["-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac"]
        command += ["-movflags", "+faststart", str(target)]
        subprocess.run(command, check=True, timeout=300, capture_output=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# The job -----------------------------------------------------------------------------------------------------------


def _box_at(session: Session, video_id: int, product_id: int, moment: Moment) -> Box | None:
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


@dataclass(frozen=True)
class Clip:
    moment: Moment
    wide: Path
    wide_box: Box | None
    tall: Path
    tall_box: Box | None


@job(HIGHLIGHTS_JOB)
def make_highlights(ctx: Context, show_id: int) -> list[int]:
    """Cut and publish the show's highlights, once; returns the videos made. A clip ffmpeg cannot cut is left out;
    a refusal of the clips (the host may no longer upload) ends the show's highlights with none, so the sweep does
    not cut them again for ever."""
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
        boxes = [_box_at(session, replay.id, m.product_id, m) for m in moments]
        title = show.title
    work = Path(tempfile.mkdtemp(prefix=f"highlights-{show_id}-", dir=ctx.store.work_root))  # one per run
    try:
        clips = []
        for rank, (moment, box) in enumerate(zip(moments, boxes, strict=True), 1):
            wide, tall = (
                framing(replay.width, replay.height, WIDE, box),
                framing(replay.width, replay.height, TALL, box),
            )
            clip = Clip(moment, work / f"{rank}-wide.mp4", wide.box(box), work / f"{rank}-tall.mp4", tall.box(box))
            try:
                cut(ctx, replay, segments, moment, wide, clip.wide)
                cut(ctx, replay, segments, moment, tall, clip.tall)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as failed:
                log.warning("live show %s: highlight %d could not be cut: %s", show_id, rank, failed)
                continue  # a segment gone or unreadable: this moment is left out, not retried for ever
            clips.append(clip)
        try:
            return _publish(ctx, show_id, title, replay.published, clips)
        except VetrinaError as refused:
            log.warning("live show %s: its highlights were refused (%s); none will be made", show_id, refused)
            _publish(ctx, show_id, title, replay.published, [])
            return []
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _publish(ctx: Context, show_id: int, title: str, published: bool, clips: list[Clip]) -> list[int]:
    """Hand the clips to the media pipeline as the host's uploads (as visible as the replay), tagged, and mark the
    show's highlights made, in one transaction."""
    made: list[int] = []
    with ctx.db.session(write=True) as session:
        show = session.get(LiveShow, show_id, with_for_update=True)
        if show is None or show.highlights_at is not None:
            return []  # another run published them meanwhile
        host = session.get_one(User, show.host_id)
        for rank, clip in enumerate(clips, 1):
            moment = clip.moment
            row = Highlight(
                show_id=show_id,
                rank=rank,
                start_s=moment.start_s,
                end_s=moment.end_s,
                product_id=moment.product_id,
                units=moment.units,
                created_at=clock.now(),
            )
            for path, suffix, box in ((clip.wide, "", clip.wide_box), (clip.tall, " (vertical)", clip.tall_box)):
                video = media.create_video(
                    ctx,
                    session,
                    host,
                    title=f"{title}: highlight {rank}{suffix}"[:200],
                    description=f"{moment.units} sold in these seconds of the live show.",
                    upload=path,
                    filename="highlight.mp4",
                )
                video.published = published  # a replay its host hid is not shown in pieces either
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


def _tag(ctx: Context, session: Session, video: Video, host: User, product_id: int, box: Box | None) -> None:
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
    now = clock.now()
    with ctx.db.session() as session:
        shows = session.scalars(
            select(LiveShow.id).where(
                LiveShow.replay_video_id.is_not(None),
                LiveShow.highlights_at.is_(None),
                LiveShow.replay_made_at < now - timedelta(minutes=5),
                LiveShow.replay_made_at > now - GIVE_UP_AFTER,  # a show that fails for a day is left alone
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
