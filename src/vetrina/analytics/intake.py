"""Event intake: validate a batch from the player and append it, dropping repeats (players resend on doubt)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
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


def _as_utc(event: EventIn) -> EventIn:
    """A time without a zone is taken as UTC (what JavaScript's toISOString sends anyway)."""
    return replace(event, occurred_at=event.occurred_at.replace(tzinfo=UTC))


def record_events(
    session: Session, viewer_key: str, events: list[EventIn], territory: str | None = None
) -> IntakeResult:
    """Store the batch's events for videos that exist, with where the viewer was; a repeated
    (viewer_key, client_event_id) is skipped."""
    now = clock.now()
    events = [e if e.occurred_at is None or e.occurred_at.tzinfo else _as_utc(e) for e in events]
    known = set(session.scalars(select(Video.id).where(Video.id.in_({e.video_id for e in events}))))
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
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(PlayerEvent).values(rows).on_conflict_do_nothing(index_elements=["viewer_key", "client_event_id"])
    )
    accepted = len(session.execute(statement.returning(PlayerEvent.id)).all())
    return IntakeResult(accepted=accepted, duplicates=len(rows) - accepted, rejected=rejected)
