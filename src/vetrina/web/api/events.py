"""POST /api/v1/events: the player's batched reports (anonymous, loss-tolerant, de-duplicated)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from vetrina.analytics import intake
from vetrina.web.deps import MAX_ROW_ID, get_context, viewer_territory
from vetrina.web.limits import limit_events

router = APIRouter(tags=["analytics"])
Id = Field(None, ge=1, le=MAX_ROW_ID)


class EventModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[\w.:-]+$", description="The player's id for this event.")
    type: str = Field(description=", ".join(sorted(intake.EVENT_TYPES)))
    video_id: int = Field(ge=1, le=MAX_ROW_ID)
    second: float = Field(ge=0, le=7 * 24 * 3600, allow_inf_nan=False)
    at: datetime | None = Field(None, description="When it happened on the viewer's clock.")
    product_id: int | None = Id
    tag_id: int | None = Id
    order_id: int | None = Id


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    viewer: str = Field(min_length=8, max_length=64, pattern=r"^[\w-]+$", description="A random id per player session.")
    events: list[EventModel] = Field(min_length=1, max_length=intake.MAX_BATCH)


class IntakeOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int = Field(description="Dropped: an unknown event type, or a video not visible here (unknown alike).")


async def _territory(request: Request) -> str:
    # `deps.territory`'s lookup (headers, a memory-mapped GeoIP file: no waiting), on the event loop rather than
    # in a worker thread: the batch then goes to a thread once, for its write.
    return viewer_territory(request)


def _event_writer(request: Request) -> intake.EventWriter:
    """This process's writer of event batches (one per app and event loop, made by the first batch)."""
    state = request.app.state
    writer = getattr(state, "event_writer", None)
    if writer is None or writer.loop is not asyncio.get_running_loop():
        writer = state.event_writer = intake.EventWriter(get_context(request).db)
    return writer


@router.post("/api/v1/events", status_code=202, response_model=IntakeOut, summary="Report what happened in the player")
async def post_events(request: Request, batch: EventBatch, territory: str = Depends(_territory)) -> IntakeOut:
    await limit_events(request)
    events = [
        intake.EventIn(
            client_event_id=e.id,
            type=e.type,
            video_id=e.video_id,
            second=e.second,
            occurred_at=e.at,
            product_id=e.product_id,
            tag_id=e.tag_id,
            order_id=e.order_id,
        )
        for e in batch.events
    ]
    # Answered once the batch's transaction has committed, shared with the batches that came meanwhile.
    result = await _event_writer(request).record(batch.viewer, events, territory)
    return IntakeOut(accepted=result.accepted, duplicates=result.duplicates, rejected=result.rejected)
