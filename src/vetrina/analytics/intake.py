"""Event intake: validate a batch from the player and append it, dropping repeats (players resend on doubt)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.analytics.models import PlayerEvent
from vetrina.media.models import Video

EVENT_TYPES = frozenset(
    {"play", "pause", "progress", "quartile", "ended", "card_shown", "card_clicked", "hold", "buy_started", "purchase"}
)
MAX_BATCH = 200
# Clocks on viewers' devices drift; events far from now are stamped with the time they arrived.
CLOCK_SKEW = timedelta(hours=24)


@dataclass(frozen=True)
class EventIn:
    client_event_id: str
    type: str
    video_id: int
    second: float
    occurred_at: datetime | None = None
    product_id: int | None = None
    tag_id: int | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class IntakeResult:
    accepted: int
    duplicates: int
    rejected: int


class KnownVideos:
    """Ids of videos that exist, remembered by one process for `ttl_s` seconds: every batch names the video
    being played, and asking the database each time would lengthen the write. Only ids found are kept (a
    video made later is seen at once); a deleted video's events are still taken for up to `ttl_s`, which
    loses nothing (events reference no row) and the rollups skip them with the video."""

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._until: dict[int, float] = {}
        self._lock = threading.Lock()

    def among(self, session: Session, video_ids: Iterable[int]) -> set[int]:
        """Which of `video_ids` exist; the database is asked only about ids not remembered."""
        now = time.monotonic()
        wanted = set(video_ids)
        known = {v for v in wanted if self._until.get(v, 0.0) > now}
        if len(known) < len(wanted):
            found = set(session.scalars(select(Video.id).where(Video.id.in_(wanted - known))))
            with self._lock:
                if len(self._until) + len(found) > self.max_entries:
                    self._until = {v: t for v, t in self._until.items() if t > now}
                    if len(self._until) + len(found) > self.max_entries:
                        self._until.clear()
                self._until.update(dict.fromkeys(found, now + self.ttl_s))
            known |= found
        return known


def _as_utc(event: EventIn) -> EventIn:
    """A time without a zone is taken as UTC (what JavaScript's toISOString sends anyway)."""
    return replace(event, occurred_at=event.occurred_at.replace(tzinfo=UTC))


def _insert_once(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING, run as one executemany per batch: compiled once per dialect and
    cached, unlike a multi-row VALUES built from the rows (compiled anew for each batch)."""
    statement = _INSERTS.get(dialect)
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        table = PlayerEvent.__table__
        statement = insert(table).on_conflict_do_nothing(index_elements=["viewer_key", "client_event_id"])
        _INSERTS[dialect] = statement
    return statement


_INSERTS: dict[str, Insert] = {}


def record_events(
    session: Session,
    viewer_key: str,
    events: list[EventIn],
    territory: str | None = None,
    known_videos: KnownVideos | None = None,
) -> IntakeResult:
    """Store the batch's events for videos that exist, with where the viewer was; a repeated
    (viewer_key, client_event_id) is skipped. `known_videos` spares asking which videos exist each time."""
    now = clock.now()
    events = [e if e.occurred_at is None or e.occurred_at.tzinfo else _as_utc(e) for e in events]
    known = (known_videos or KnownVideos()).among(session, {e.video_id for e in events})
    rows = [
        {
            "viewer_key": viewer_key,
            "client_event_id": e.client_event_id,
            "type": e.type,
            "video_id": e.video_id,
            "second": round(e.second, 3),
            "product_id": e.product_id,
            "tag_id": e.tag_id,
            "order_id": e.order_id,
            "occurred_at": e.occurred_at if e.occurred_at and abs(e.occurred_at - now) < CLOCK_SKEW else now,
            "received_at": now,
            "territory": territory,
        }  # fmt: skip
        for e in events
        if e.video_id in known and e.type in EVENT_TYPES
    ]
    rejected = len(events) - len(rows)
    if not rows:
        return IntakeResult(accepted=0, duplicates=0, rejected=rejected)
    # Skipped conflicts are not counted as changed rows: the sum over the executemany is what was stored
    # (sqlite3 and psycopg both sum it; SQLAlchemy passes it on when asked to preserve it).
    stored = session.execute(
        _insert_once(session.get_bind().dialect.name), rows, execution_options={"preserve_rowcount": True}
    )
    return IntakeResult(accepted=stored.rowcount, duplicates=len(rows) - stored.rowcount, rejected=rejected)
