"""Rollups of player events, kept up to date incrementally: per video and second, what the audience did (the
"selling seconds" view); per day, video, product, tag, territory and type, how many events (what the dashboards
and the revenue share read); per day, video, territory and viewer, how far they watched (viewers, watch time).

The per-minute job takes the events past a cursor a range of ids at a time; the database groups them (per
video, second and type; per viewer; per day) and the groups are folded into deltas, which one short write
transaction adds while it moves the cursor, compare-and-set, so that two rollups at once never both count a
chunk. Its cost follows the events that arrived, not all there are.
Duplicates were dropped at intake, and the order events arrive in does not matter: every count is a sum,
and a viewer's span is a min and a max.

- viewers still watching at a second: a viewer counts from the first second they were seen at to the furthest
  they reached (`ViewerSpan`); each second stores how many viewers' spans begin and end there, and the
  curve is their running sum, so a viewer who watches further changes two rows, not every second between.
- `shown`, `clicked`, `buys`, `purchases`: card impressions, card clicks, buys started and purchases at each
  (whole) second.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from huey import crontab
from sqlalchemy import CursorResult, Integer, case, func, select, text, update
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.analytics.intake import INTAKE_LOCK
from vetrina.analytics.models import DailyStats, DailyViewer, PlayerEvent, RollupState, SecondStats, ViewerSpan
from vetrina.context import Context
from vetrina.db import Database, dialect_insert, utc_day
from vetrina.jobs import periodic_job

CURSOR = "player_events"
CHUNK = 50_000  # event ids folded per write transaction
COUNTED = {"card_shown": "shown", "card_clicked": "clicked", "buy_started": "buys", "purchase": "purchases"}
SECOND_COLUMNS = ("joined", "dropped", *COUNTED.values())
SpanKey = tuple[int, str]  # (video, viewer)


@dataclass(frozen=True)
class Seconds:
    """The rollup of one video as parallel lists indexed by second."""

    viewers: list[int]
    shown: list[int]
    clicked: list[int]
    buys: list[int]
    purchases: list[int]


@dataclass
class Deltas:
    """What a run of events adds to the rollups."""

    seconds: defaultdict[tuple[int, int], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    spans: dict[SpanKey, tuple[int, int]] = field(default_factory=dict)  # the changed spans, as they are now
    daily: Counter[tuple[str, int, int, int, str, str]] = field(default_factory=Counter)
    viewers: dict[tuple[str, int, str, str], float] = field(default_factory=dict)  # -> furthest second


def on_days(day: Any, start: date, end: date) -> list[Any]:
    """Conditions for a rollup's YYYY-MM-DD `day` column from `start` to `end` inclusive (the strings sort as the
    days do)."""
    return [day >= start.isoformat(), day <= end.isoformat()]


def last_second(duration_s: float) -> int:
    """A video's last whole second: events beyond it (a clock running over) count there."""
    return max(0, math.ceil(duration_s) - 1)


def _whole_second(column: Any, dialect: str) -> Any:
    # Truncated, as int() does: PostgreSQL's CAST rounds, SQLite's truncates.
    return func.trunc(column).cast(Integer) if dialect == "postgresql" else column.cast(Integer)


def aggregate(session: Session, where: list[Any], by_day: bool = True) -> Deltas:
    """What the events matching `where` add to the rollups (without the daily ones unless `by_day`): the
    database counts and groups them (in C, over the id range), and only the groups are folded here, into the
    spans read so far."""
    dialect = session.get_bind().dialect.name
    second, day = _whole_second(PlayerEvent.second, dialect), utc_day(PlayerEvent.occurred_at, dialect)
    last = _last_seconds(session, select(PlayerEvent.video_id).where(*where))
    deltas = Deltas()
    for video_id, at, kind, n in session.execute(
        select(PlayerEvent.video_id, second, PlayerEvent.type, func.count())
        .where(*where, PlayerEvent.type.in_(COUNTED))
        .group_by(PlayerEvent.video_id, second, PlayerEvent.type)
    ):
        if video_id in last:
            deltas.seconds[(video_id, min(at, last[video_id]))][COUNTED[kind]] += n
    reached = session.execute(
        select(PlayerEvent.video_id, PlayerEvent.viewer_key, func.min(PlayerEvent.second), func.max(PlayerEvent.second))
        .where(*where)
        .group_by(PlayerEvent.video_id, PlayerEvent.viewer_key)
    ).all()
    spans = _spans(session, {(video_id, viewer) for video_id, viewer, _, _ in reached if video_id in last})
    for video_id, viewer, earliest, furthest in reached:
        end = last.get(video_id)
        if end is None:
            continue
        key, before = (video_id, viewer), spans.get((video_id, viewer))
        # Clamping keeps order, so the span of the clamped seconds is the clamped span.
        span = (min(int(earliest), end), min(int(furthest), end))
        if before is not None:
            span = (min(span[0], before[0]), max(span[1], before[1]))
            if span == before:
                continue
            deltas.seconds[(video_id, before[0])]["joined"] -= 1
            deltas.seconds[(video_id, before[1])]["dropped"] -= 1
        deltas.seconds[(video_id, span[0])]["joined"] += 1
        deltas.seconds[(video_id, span[1])]["dropped"] += 1
        deltas.spans[key] = span
    if not by_day:
        return deltas
    keys = (
        day,
        PlayerEvent.video_id,
        func.coalesce(PlayerEvent.product_id, 0),
        func.coalesce(PlayerEvent.tag_id, 0),
        func.coalesce(PlayerEvent.territory, ""),
        PlayerEvent.type,
    )
    for *group, n in session.execute(select(*keys, func.count()).where(*where).group_by(*keys)):
        if group[1] in last:
            deltas.daily[(str(group[0])[:10], *group[1:])] += n
    seen = (day, PlayerEvent.video_id, func.coalesce(PlayerEvent.territory, ""), PlayerEvent.viewer_key)
    for d, video_id, territory, viewer, furthest in session.execute(
        select(*seen, func.max(PlayerEvent.second)).where(*where).group_by(*seen)
    ):
        if video_id in last:
            deltas.viewers[(str(d)[:10], video_id, territory, viewer)] = furthest
    return deltas


def committed_watermark(db: Database) -> int:
    """The newest event id at or below which every event is committed.

    PostgreSQL hands out ids before commit, so a lower id can commit after a higher one has been read; the
    intake's transactions hold `INTAKE_LOCK` shared, and taking it alone waits for those under way (later ones
    get higher ids). SQLite writes one transaction at a time, in id order."""
    with db.session() as session:
        if not db.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INTAKE_LOCK})
        return session.scalar(select(func.max(PlayerEvent.id))) or 0


def roll_up_new(db: Database, chunk: int = CHUNK) -> int:
    """Fold the events committed since the last rollup into the rollups, `chunk` ids per transaction; returns
    how many ids it moved over (events, and any ids a rolled-back intake left unused)."""
    watermark = committed_watermark(db)
    folded = 0
    while (done := _roll_up_chunk(db, watermark, chunk)) > 0:
        folded += done
    return folded


def _roll_up_chunk(db: Database, watermark: int, size: int) -> int:
    with db.session(snapshot=True) as session:
        # The migration made the cursor's row: it is always there.
        start = session.execute(select(RollupState.last_event_id).where(RollupState.name == CURSOR)).scalar_one()
        if start >= watermark:
            return 0
        upto = min(watermark, start + size)
        deltas = aggregate(session, [PlayerEvent.id > start, PlayerEvent.id <= upto])
    with db.session(write=True) as session:
        if not _move_cursor(session, start, upto):
            return 0  # another rollup folded these meanwhile
        _add(session, deltas)
    return upto - start


def _last_seconds(session: Session, video_ids: Any) -> dict[int, int]:
    from vetrina.media.models import Video

    found = session.execute(select(Video.id, Video.duration_s).where(Video.id.in_(video_ids)))
    return {video_id: last_second(duration_s or 0) for video_id, duration_s in found}


def _spans(session: Session, keys: set[SpanKey]) -> dict[SpanKey, tuple[int, int]]:
    by_video: defaultdict[int, list[str]] = defaultdict(list)
    for video_id, viewer in keys:
        by_video[video_id].append(viewer)
    spans = {}
    for video_id, viewers in by_video.items():
        for start in range(0, len(viewers), 500):  # within every database's limit on parameters
            for viewer, first, furthest in session.execute(
                select(ViewerSpan.viewer_key, ViewerSpan.first_second, ViewerSpan.last_second).where(
                    ViewerSpan.video_id == video_id, ViewerSpan.viewer_key.in_(viewers[start : start + 500])
                )
            ):
                spans[(video_id, viewer)] = (first, furthest)
    return spans


def _move_cursor(session: Session, was: int, to: int) -> bool:
    """Compare and set: False when the cursor is no longer where this rollup read it."""
    moved = cast(
        CursorResult[Any],
        session.execute(
            update(RollupState)
            .where(RollupState.name == CURSOR, RollupState.last_event_id == was)
            .values(last_event_id=to, rolled_up_at=clock.now())
        ),
    )
    return moved.rowcount == 1


def _add(session: Session, deltas: Deltas) -> None:
    insert = dialect_insert(session)
    if deltas.seconds:
        table = SecondStats.__table__
        adding = insert(table)
        adding = adding.on_conflict_do_update(
            index_elements=["video_id", "second"], set_={c: table.c[c] + adding.excluded[c] for c in SECOND_COLUMNS}
        )
        session.execute(
            adding,
            [
                {"video_id": video_id, "second": second, **{c: counts[c] for c in SECOND_COLUMNS}}
                for (video_id, second), counts in deltas.seconds.items()
            ],
        )
    if deltas.spans:
        setting = insert(ViewerSpan.__table__)
        setting = setting.on_conflict_do_update(
            index_elements=["video_id", "viewer_key"],
            set_={"first_second": setting.excluded.first_second, "last_second": setting.excluded.last_second},
        )
        session.execute(
            setting,
            [
                {"video_id": v, "viewer_key": viewer, "first_second": first, "last_second": end}
                for (v, viewer), (first, end) in deltas.spans.items()
            ],
        )
    if deltas.daily:
        table = DailyStats.__table__
        counting = insert(table)
        counting = counting.on_conflict_do_update(
            index_elements=["day", "video_id", "product_id", "tag_id", "territory", "type"],
            set_={"events": table.c.events + counting.excluded.events},
        )
        session.execute(
            counting,
            [
                {"day": day, "video_id": v, "product_id": p, "tag_id": t, "territory": terr, "type": kind, "events": n}
                for (day, v, p, t, terr, kind), n in deltas.daily.items()
            ],
        )
    if deltas.viewers:
        table = DailyViewer.__table__
        reaching = insert(table)
        further = reaching.excluded.furthest_s
        reaching = reaching.on_conflict_do_update(
            index_elements=["day", "video_id", "territory", "viewer_key"],
            set_={"furthest_s": case((further > table.c.furthest_s, further), else_=table.c.furthest_s)},
        )
        session.execute(
            reaching,
            [
                {"day": day, "video_id": v, "territory": terr, "viewer_key": viewer, "furthest_s": furthest}
                for (day, v, terr, viewer), furthest in deltas.viewers.items()
            ],
        )


def seconds(session: Session, video_id: int, duration_s: float) -> Seconds:
    """The video's rollup, one entry per second of its length (zeros where nothing happened), with the events
    that arrived since the last rollup folded in, so a report is never a minute behind."""
    length = max(1, math.ceil(duration_s))
    lists = {name: [0] * length for name in SECOND_COLUMNS}
    # Shared-locking the cursor keeps a rollup from committing between this read and the next ones.
    cursor = session.execute(
        select(RollupState.last_event_id).where(RollupState.name == CURSOR).with_for_update(read=True)
    ).scalar_one()
    for row in session.scalars(select(SecondStats).where(SecondStats.video_id == video_id)):
        if row.second < length:
            for name in SECOND_COLUMNS:
                lists[name][row.second] += getattr(row, name)
    # No cap: the tail is what arrived since the last minute's rollup (a primary-key range from the cursor).
    tail = [PlayerEvent.id > cursor, PlayerEvent.video_id == video_id]
    for (_, second), counts in aggregate(session, tail, by_day=False).seconds.items():
        for name, n in counts.items():
            lists[name][min(second, length - 1)] += n
    watching, viewers = 0, []
    for joined, dropped in zip(lists.pop("joined"), lists.pop("dropped"), strict=True):
        watching += joined
        viewers.append(watching)
        watching -= dropped
    return Seconds(viewers=viewers, **lists)


@periodic_job("analytics.rollups", crontab(minute="*"))
def rollup_job(ctx: Context) -> int:
    """Fold the events that arrived since the last run into the rollups; returns how many."""
    return roll_up_new(ctx.db)


def selling_seconds(session: Session, video_id: int, viewer: Any) -> dict[str, Any]:
    """What the video's owner (or an admin) sees: the rollup by second and the tags on the same time axis."""
    from vetrina.media import service as media
    from vetrina.shoppable.models import ProductTag

    video = media.video_for_change(session, video_id, viewer)
    rolled = seconds(session, video.id, video.duration_s)
    tags = session.scalars(select(ProductTag).where(ProductTag.video_id == video.id).order_by(ProductTag.start_s))
    return {
        "video_id": video.id,
        "title": video.title,
        "duration_s": round(video.duration_s, 3),
        "seconds": {name: getattr(rolled, name) for name in ("viewers", *COUNTED.values())},
        "tags": [
            {"id": t.id, "product_id": t.product_id, "label": t.label, "start_s": t.start_s, "end_s": t.end_s}
            for t in tags
        ],
    }
