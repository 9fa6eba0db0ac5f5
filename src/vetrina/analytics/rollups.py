"""Rollups of player events, kept up to date incrementally: per video and second, what the audience did (the
"selling seconds" view); per day, video, product, tag, territory and type, how many events (what the dashboards
and the revenue share read); per day, video, territory and viewer, how far they watched (viewers, watch time).

The per-minute job reads the events past a cursor, in id order and in chunks, folds each chunk into deltas,
and adds the deltas in one short write transaction that also moves the cursor, compare-and-set, so that two
rollups at once never both count a chunk. Its cost follows the events that arrived, not all there are.
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from huey import crontab
from sqlalchemy import case, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.analytics.intake import INTAKE_LOCK
from vetrina.analytics.models import DailyStats, DailyViewer, PlayerEvent, RollupState, SecondStats, ViewerSpan
from vetrina.db import Database
from vetrina.jobs import JobContext, periodic_job

CURSOR = "player_events"
CHUNK = 20_000  # events folded per write transaction
FRESH_TAIL = 20_000  # events past the cursor a report folds in itself (about a minute of one busy video)
COUNTED = {"card_shown": "shown", "card_clicked": "clicked", "buy_started": "buys", "purchase": "purchases"}
SECOND_COLUMNS = ("joined", "dropped", *COUNTED.values())
EVENT_COLUMNS = (PlayerEvent.id, PlayerEvent.video_id, PlayerEvent.viewer_key, PlayerEvent.type,
                 PlayerEvent.second, PlayerEvent.product_id, PlayerEvent.tag_id, PlayerEvent.territory,
                 PlayerEvent.occurred_at)  # fmt: skip
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


def last_second(duration_s: float) -> int:
    """A video's last whole second: events beyond it (a clock running over) count there."""
    return max(0, math.ceil(duration_s) - 1)


def fold(events: Iterable[Any], last: dict[int, int], spans: dict[SpanKey, tuple[int, int]]) -> Deltas:
    """Events (rows with `EVENT_COLUMNS`) -> deltas, given each video's last second and the viewers' spans so
    far; events of videos not in `last` (deleted since) are skipped."""
    deltas = Deltas()
    now: dict[SpanKey, list[int]] = {}
    for e in events:
        end = last.get(e.video_id)
        if end is None:
            continue
        at = min(int(e.second), end)
        key = (e.video_id, e.viewer_key)
        span = now.get(key)
        if span is None:
            span = now[key] = list(spans.get(key, (at, at)))
        span[0], span[1] = min(span[0], at), max(span[1], at)
        if e.type in COUNTED:
            deltas.seconds[(e.video_id, at)][COUNTED[e.type]] += 1
        day = e.occurred_at.date().isoformat()
        territory = e.territory or ""
        deltas.daily[(day, e.video_id, e.product_id or 0, e.tag_id or 0, territory, e.type)] += 1
        seen = (day, e.video_id, territory, e.viewer_key)
        deltas.viewers[seen] = max(deltas.viewers.get(seen, 0.0), e.second)
    for key, (first, furthest) in now.items():
        before = spans.get(key)
        if before == (first, furthest):
            continue
        video_id = key[0]
        if before is not None:
            deltas.seconds[(video_id, before[0])]["joined"] -= 1
            deltas.seconds[(video_id, before[1])]["dropped"] -= 1
        deltas.seconds[(video_id, first)]["joined"] += 1
        deltas.seconds[(video_id, furthest)]["dropped"] += 1
        deltas.spans[key] = (first, furthest)
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
    """Fold the events committed since the last rollup into the rollups; returns how many were folded."""
    watermark = committed_watermark(db)
    folded = 0
    while (done := _roll_up_chunk(db, watermark, chunk)) > 0:
        folded += done
    return folded


def _roll_up_chunk(db: Database, watermark: int, limit: int) -> int:
    with db.session(snapshot=True) as session:
        cursor = session.scalar(select(RollupState.last_event_id).where(RollupState.name == CURSOR))
        rows = session.execute(
            select(*EVENT_COLUMNS).where(PlayerEvent.id > (cursor or 0), PlayerEvent.id <= watermark)
            .order_by(PlayerEvent.id).limit(limit)
        ).all()  # fmt: skip
        if not rows:
            return 0
        last = _last_seconds(session, {r.video_id for r in rows})
        spans = _spans(session, {(r.video_id, r.viewer_key) for r in rows})
    deltas = fold(rows, last, spans)
    with db.session(write=True) as session:
        if not _move_cursor(session, cursor, rows[-1].id):
            return 0  # another rollup folded these meanwhile
        _add(session, deltas)
    return len(rows)


def _last_seconds(session: Session, video_ids: set[int]) -> dict[int, int]:
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
                select(ViewerSpan.viewer_key, ViewerSpan.first_second, ViewerSpan.last_second)
                .where(ViewerSpan.video_id == video_id, ViewerSpan.viewer_key.in_(viewers[start : start + 500]))
            ):  # fmt: skip
                spans[(video_id, viewer)] = (first, furthest)
    return spans


def _move_cursor(session: Session, was: int | None, to: int) -> bool:
    """Compare and set: False when the cursor is no longer where this rollup read it."""
    if was is None:
        fresh = _insert(session)(RollupState).values(name=CURSOR, last_event_id=to, rolled_up_at=clock.now())
        return session.scalar(fresh.on_conflict_do_nothing().returning(RollupState.name)) is not None
    moved = session.execute(
        update(RollupState).where(RollupState.name == CURSOR, RollupState.last_event_id == was)
        .values(last_event_id=to, rolled_up_at=clock.now())
    )  # fmt: skip
    return moved.rowcount == 1


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _add(session: Session, deltas: Deltas) -> None:
    insert = _insert(session)
    if deltas.seconds:
        table = SecondStats.__table__
        adding = insert(table)
        adding = adding.on_conflict_do_update(
            index_elements=["video_id", "second"], set_={c: table.c[c] + adding.excluded[c] for c in SECOND_COLUMNS}
        )
        session.execute(adding, [{"video_id": video_id, "second": second, **{c: counts[c] for c in SECOND_COLUMNS}}
                                 for (video_id, second), counts in deltas.seconds.items()])  # fmt: skip
    if deltas.spans:
        setting = insert(ViewerSpan.__table__)
        setting = setting.on_conflict_do_update(
            index_elements=["video_id", "viewer_key"],
            set_={"first_second": setting.excluded.first_second, "last_second": setting.excluded.last_second},
        )
        session.execute(setting, [{"video_id": v, "viewer_key": viewer, "first_second": first, "last_second": end}
                                  for (v, viewer), (first, end) in deltas.spans.items()])  # fmt: skip
    if deltas.daily:
        table = DailyStats.__table__
        counting = insert(table)
        counting = counting.on_conflict_do_update(
            index_elements=["day", "video_id", "product_id", "tag_id", "territory", "type"],
            set_={"events": table.c.events + counting.excluded.events},
        )
        session.execute(counting, [
            {"day": day, "video_id": v, "product_id": p, "tag_id": t, "territory": terr, "type": kind, "events": n}
            for (day, v, p, t, terr, kind), n in deltas.daily.items()
        ])  # fmt: skip
    if deltas.viewers:
        table = DailyViewer.__table__
        reaching = insert(table)
        further = reaching.excluded.furthest_s
        reaching = reaching.on_conflict_do_update(
            index_elements=["day", "video_id", "territory", "viewer_key"],
            set_={"furthest_s": case((further > table.c.furthest_s, further), else_=table.c.furthest_s)},
        )
        session.execute(reaching, [
            {"day": day, "video_id": v, "territory": terr, "viewer_key": viewer, "furthest_s": furthest}
            for (day, v, terr, viewer), furthest in deltas.viewers.items()
        ])  # fmt: skip


def seconds(session: Session, video_id: int, duration_s: float) -> Seconds:
    """The video's rollup, one entry per second of its length (zeros where nothing happened), with the events
    that arrived since the last rollup folded in (up to `FRESH_TAIL` of them), so a report is never a minute
    behind."""
    length = max(1, math.ceil(duration_s))
    lists = {name: [0] * length for name in SECOND_COLUMNS}
    # Shared-locking the cursor keeps a rollup from committing between this read and the next ones.
    cursor = session.scalar(
        select(RollupState.last_event_id).where(RollupState.name == CURSOR).with_for_update(read=True)
    )
    for row in session.scalars(select(SecondStats).where(SecondStats.video_id == video_id)):
        if row.second < length:
            for name in SECOND_COLUMNS:
                lists[name][row.second] += getattr(row, name)
    tail = session.execute(
        select(*EVENT_COLUMNS).where(PlayerEvent.video_id == video_id, PlayerEvent.id > (cursor or 0))
        .order_by(PlayerEvent.id).limit(FRESH_TAIL)
    ).all()  # fmt: skip
    if tail:
        spans = _spans(session, {(video_id, r.viewer_key) for r in tail})
        for (_, second), counts in fold(tail, {video_id: length - 1}, spans).seconds.items():
            for name, n in counts.items():
                lists[name][second] += n
    watching, viewers = 0, []
    for joined, dropped in zip(lists.pop("joined"), lists.pop("dropped"), strict=True):
        watching += joined
        viewers.append(watching)
        watching -= dropped
    return Seconds(viewers=viewers, **lists)


@periodic_job("analytics.rollups", crontab(minute="*"))
def rollup_job(ctx: JobContext) -> int:
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
        "video_id": video.id, "title": video.title, "duration_s": round(video.duration_s, 3),
        "seconds": {name: getattr(rolled, name) for name in ("viewers", *COUNTED.values())},
        "tags": [{"id": t.id, "product_id": t.product_id, "label": t.label, "start_s": t.start_s, "end_s": t.end_s}
                 for t in tags],
    }  # fmt: skip
