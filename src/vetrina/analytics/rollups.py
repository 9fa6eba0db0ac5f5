"""Rollups of player events: per video and second, what the audience did (the "selling seconds" view); and per
day, video, product, tag and territory, how many events of each type (what the dashboards read).

A rollup is recomputed whole for a video from its raw events, so it is idempotent and indifferent to
duplicates (already dropped at intake) and to the order events arrive in. The per-minute job recomputes
the videos that received events since their last rollup.

- `viewers`: how many viewers were still watching at each second. A viewer counts from the first second
  they were seen at to the furthest second they reached.
- `shown`, `clicked`, `buys`, `purchases`: card impressions, card clicks, buys started and purchases
  reported at each (whole) second.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from huey import crontab
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.analytics.models import DailyStats, PlayerEvent, RollupState, SecondStats
from vetrina.db import utc_day
from vetrina.jobs import JobContext, periodic_job

COUNTED = {"card_shown": "shown", "card_clicked": "clicked", "buy_started": "buys", "purchase": "purchases"}


@dataclass(frozen=True)
class Seconds:
    """The rollup of one video as parallel lists indexed by second."""

    viewers: list[int]
    shown: list[int]
    clicked: list[int]
    buys: list[int]
    purchases: list[int]


def compute(events: list[tuple[str, str, float]], duration_s: float) -> dict[int, dict[str, int]]:
    """(viewer, type, second) events -> {second: counts}; the one definition, used by the job and the tests."""
    last = max(0, math.ceil(duration_s) - 1)
    span: dict[str, list[int]] = {}
    out: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(("viewers", *COUNTED.values()), 0))
    for viewer, kind, second in events:
        at = min(int(second), last)
        first_last = span.setdefault(viewer, [at, at])
        first_last[0], first_last[1] = min(first_last[0], at), max(first_last[1], at)
        if kind in COUNTED:
            out[at][COUNTED[kind]] += 1
    starts, ends = defaultdict(int), defaultdict(int)
    for first, furthest in span.values():
        starts[first] += 1
        ends[furthest + 1] += 1
    watching = 0
    for second in range(last + 1):
        watching += starts[second] - ends[second]
        if watching:
            out[second]["viewers"] = watching
    return {s: counts for s, counts in out.items() if any(counts.values())}


def roll_up(session: Session, video_id: int, duration_s: float) -> int:
    """Recompute the video's rollup from all its events; returns the last event id it covers."""
    rows = session.execute(
        select(PlayerEvent.id, PlayerEvent.viewer_key, PlayerEvent.type, PlayerEvent.second)
        .where(PlayerEvent.video_id == video_id)
    ).all()  # fmt: skip
    stats = compute([(r.viewer_key, r.type, r.second) for r in rows], duration_s)
    session.execute(delete(SecondStats).where(SecondStats.video_id == video_id))
    if stats:
        session.execute(insert(SecondStats), [{"video_id": video_id, "second": s, **c} for s, c in stats.items()])
    _roll_up_days(session, video_id)
    last = max((r.id for r in rows), default=0)
    state = session.get(RollupState, video_id) or RollupState(video_id=video_id)
    state.last_event_id, state.rolled_up_at = last, clock.now()
    session.add(state)
    return last


def _roll_up_days(session: Session, video_id: int) -> None:
    """The video's events counted per day, product, tag, territory and type, by the database itself."""
    day = utc_day(PlayerEvent.occurred_at, session.get_bind().dialect.name)
    keys = (day.label("day"), func.coalesce(PlayerEvent.product_id, 0).label("product_id"),
            func.coalesce(PlayerEvent.tag_id, 0).label("tag_id"),
            func.coalesce(PlayerEvent.territory, "").label("territory"), PlayerEvent.type)  # fmt: skip
    counted = (
        select(*keys, PlayerEvent.video_id, func.count().label("events"),
               func.count(func.distinct(PlayerEvent.viewer_key)).label("viewers"))
        .where(PlayerEvent.video_id == video_id)
        .group_by(*keys[:4], PlayerEvent.type, PlayerEvent.video_id)
    )  # fmt: skip
    session.execute(delete(DailyStats).where(DailyStats.video_id == video_id))
    columns = ["day", "product_id", "tag_id", "territory", "type", "video_id", "events", "viewers"]
    session.execute(insert(DailyStats).from_select(columns, counted))


def seconds(session: Session, video_id: int, duration_s: float) -> Seconds:
    """The video's rollup, one entry per second of its length (zeros where nothing happened)."""
    length = max(1, math.ceil(duration_s))
    lists = {name: [0] * length for name in ("viewers", *COUNTED.values())}
    for row in session.scalars(select(SecondStats).where(SecondStats.video_id == video_id)):
        if row.second < length:
            for name in lists:
                lists[name][row.second] = getattr(row, name)
    return Seconds(**lists)


@periodic_job("analytics.rollups", crontab(minute="*"))
def rollup_job(ctx: JobContext, limit: int = 200) -> list[int]:
    """Recompute the rollups of videos with events newer than their last rollup; returns those videos."""
    from vetrina.media.models import Video

    with ctx.db.session() as session:
        newest = (select(PlayerEvent.video_id, func.max(PlayerEvent.id).label("newest"))
                  .group_by(PlayerEvent.video_id).subquery())  # fmt: skip
        stale = list(session.execute(
            select(newest.c.video_id, Video.duration_s)
            .join(Video, Video.id == newest.c.video_id)
            .outerjoin(RollupState, RollupState.video_id == newest.c.video_id)
            .where((RollupState.last_event_id.is_(None)) | (RollupState.last_event_id < newest.c.newest))
            .limit(limit)
        ).all())  # fmt: skip
    for video_id, duration_s in stale:
        with ctx.db.session(write=True) as session:
            roll_up(session, video_id, duration_s)
    return [video_id for video_id, _ in stale]


def selling_seconds(session: Session, video_id: int, viewer: Any) -> dict[str, Any]:
    """What the video's owner (or an admin) sees: the rollup by second, brought up to date first, and the
    tags on the same time axis."""
    from vetrina.media import service as media
    from vetrina.shoppable.models import ProductTag

    video = media.video_for_change(session, video_id, viewer)
    state = session.get(RollupState, video.id)
    newest = session.scalar(select(func.max(PlayerEvent.id)).where(PlayerEvent.video_id == video.id)) or 0
    if state is None or state.last_event_id < newest:
        roll_up(session, video.id, video.duration_s)
    rolled = seconds(session, video.id, video.duration_s)
    tags = session.scalars(select(ProductTag).where(ProductTag.video_id == video.id).order_by(ProductTag.start_s))
    return {
        "video_id": video.id, "title": video.title, "duration_s": round(video.duration_s, 3),
        "seconds": {name: getattr(rolled, name) for name in ("viewers", *COUNTED.values())},
        "tags": [{"id": t.id, "product_id": t.product_id, "label": t.label, "start_s": t.start_s, "end_s": t.end_s}
                 for t in tags],
    }  # fmt: skip
