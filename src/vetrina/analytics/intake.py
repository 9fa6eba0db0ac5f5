"""Event intake: validate a batch from the player and append it, dropping repeats (players resend on doubt)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Insert, Table, select, text
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.analytics.models import PlayerEvent
from vetrina.db import Database, insert_for
from vetrina.media.models import Video, VideoStatus
from vetrina.rights import service as rights

EVENT_TYPES = frozenset(
    {"play", "pause", "progress", "quartile", "ended", "card_shown", "card_clicked", "hold", "buy_started", "purchase"}
)
MAX_BATCH = 200
# Clocks on viewers' devices drift; events far from now are stamped with the time they arrived.
CLOCK_SKEW = timedelta(hours=24)
# PostgreSQL advisory lock: intake transactions hold it shared; see `rollups.committed_watermark`.
INTAKE_LOCK = 0x76747201


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


def visible_videos(session: Session, video_ids: Iterable[int], territory: str | None) -> set[int]:
    """Which of `video_ids` anyone may watch in `territory` now: published, ready, and licensed to stream there.
    Events for any other video are rejected alike, whether it exists or not, so the answer reveals no private id."""
    where = [Video.id.in_(set(video_ids)), Video.published.is_(True), Video.status == VideoStatus.ready.value]
    if territory is not None:
        where.append(rights.listable(territory, clock.now()))
    return set(session.scalars(select(Video.id).where(*where)))


def _as_utc(event: EventIn) -> EventIn:
    """A time without a zone is taken as UTC (what JavaScript's toISOString sends anyway)."""
    if event.occurred_at is None or event.occurred_at.tzinfo:
        return event
    return replace(event, occurred_at=event.occurred_at.replace(tzinfo=UTC))


@functools.cache
def _insert_skipping_repeats(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (viewer_key, client_event_id) DO NOTHING, run as an executemany of a batch's rows:
    one statement, compiled once (a multi-row VALUES made from the rows would be compiled anew for each batch)."""
    return insert_for(dialect)(cast(Table, PlayerEvent.__table__)).on_conflict_do_nothing(
        index_elements=["viewer_key", "client_event_id"]
    )


def record_events(
    session: Session,
    viewer_key: str,
    events: list[EventIn],
    territory: str | None = None,
    known_videos: Collection[int] | None = None,
) -> IntakeResult:
    """Store the batch's events for videos the viewer may watch, with where the viewer was; a repeated
    (viewer_key, client_event_id) is skipped. `known_videos`: those of the batch's videos that are visible there,
    when the caller has asked already (in the same transaction)."""
    now = clock.now()
    events = [_as_utc(e) for e in events]
    known = visible_videos(session, {e.video_id for e in events}, territory) if known_videos is None else known_videos
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
        }
        for e in events
        if e.video_id in known and e.type in EVENT_TYPES
    ]
    rejected = len(events) - len(rows)
    if not rows:
        return IntakeResult(accepted=0, duplicates=0, rejected=rejected)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": INTAKE_LOCK})
    # Skipped conflicts are not counted as changed rows: the sum over the executemany is what was stored
    # (sqlite3 and psycopg both sum it; SQLAlchemy passes it on when asked to preserve it).
    stored = cast(
        CursorResult[Any],
        session.execute(
            _insert_skipping_repeats(session.get_bind().dialect.name),
            rows,
            execution_options={"preserve_rowcount": True},
        ),
    )
    return IntakeResult(accepted=stored.rowcount, duplicates=len(rows) - stored.rowcount, rejected=rejected)


@dataclass
class _Pending:
    viewer_key: str
    events: list[EventIn]
    territory: str | None
    answer: asyncio.Future[IntakeResult]


class EventWriter:
    """One process's writer of event batches, for its event loop: a batch waits while a write is under way,
    and the batches that arrived meanwhile are written together in the next transaction (group commit), by
    one worker thread at a time.

    A batch is answered only once its transaction has committed, so an accepted event is a stored one. One
    transaction per group rather than per batch takes the database's write turn far less often (SQLite has
    one writer for all processes) and leaves this process's threads to the rest (playback)."""

    def __init__(self, db: Database, max_group: int = 64) -> None:
        self.db = db
        self.max_group = max_group
        self.loop = asyncio.get_running_loop()
        self._pending: list[_Pending] = []
        self._draining: asyncio.Task[None] | None = None

    async def record(self, viewer_key: str, events: list[EventIn], territory: str | None = None) -> IntakeResult:
        """`record_events` for one batch, sharing a transaction with the batches that arrive alongside."""
        pending = _Pending(viewer_key, events, territory, self.loop.create_future())
        self._pending.append(pending)
        if self._draining is None:
            self._draining = self.loop.create_task(self._drain())
        return await pending.answer

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending[: self.max_group], self._pending[self.max_group :]
                try:
                    results = await asyncio.to_thread(self._write, group)
                except Exception as exc:  # noqa: BLE001 (each waiting request gets the error)
                    results = [exc] * len(group)
                for pending, result in zip(group, results, strict=True):
                    if pending.answer.done():  # the request went away
                        continue
                    if isinstance(result, BaseException):
                        pending.answer.set_exception(result)
                    else:
                        pending.answer.set_result(result)
        finally:
            self._draining = None

    def _write(self, group: list[_Pending]) -> list[IntakeResult | BaseException]:
        try:
            with self.db.session(write=True) as session:
                known: dict[str | None, set[int]] = {}
                for territory in {pending.territory for pending in group}:
                    ids = (e.video_id for pending in group if pending.territory == territory for e in pending.events)
                    known[territory] = visible_videos(session, ids, territory)
                return [
                    record_events(
                        session, pending.viewer_key, pending.events, pending.territory, known[pending.territory]
                    )
                    for pending in group
                ]
        except Exception as exc:  # noqa: BLE001
            if len(group) == 1:
                return [exc]
        # One batch's failure must not fail the others: each is written in a transaction of its own.
        return [result for pending in group for result in self._write([pending])]
