"""/api/v1/live (live shows and their stream keys) and /rtmp/{secret}/... (the RTMP server's publish checks)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.errors import NotFound
from vetrina.live import rtmp
from vetrina.live import service as live
from vetrina.live.models import LiveShow, ShowStatus
from vetrina.web.deps import MAX_ROW_ID, RowId, db_session, get_context, required_user

router = APIRouter(tags=["live"])


class ShowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime | None = Field(None, description="When the show is announced to start.")
    product_ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(
        [], max_length=live.MAX_FEATURED, description="Your products the show features, in order."
    )


class ShowOut(BaseModel):
    id: int
    host_id: int
    title: str
    status: ShowStatus
    product_ids: list[int]
    starts_at: datetime | None
    created_at: datetime
    went_live_at: datetime | None
    ended_at: datetime | None


class ShowWithKeyOut(ShowOut):
    stream_key: str = Field(description="Shown in this answer only: publish to `rtmp_url`/`stream_key`.")
    rtmp_url: str


def show_out(show: LiveShow) -> ShowOut:
    return ShowOut(
        id=show.id,
        host_id=show.host_id,
        title=show.title,
        status=ShowStatus(show.status),
        product_ids=show.product_ids,
        starts_at=show.starts_at,
        created_at=show.created_at,
        went_live_at=show.went_live_at,
        ended_at=show.ended_at,
    )


def _with_key(request: Request, show: LiveShow, key: str) -> ShowWithKeyOut:
    rtmp_url = get_context(request).settings.live_rtmp_url
    return ShowWithKeyOut(**show_out(show).model_dump(), stream_key=key, rtmp_url=rtmp_url)


@router.post("/api/v1/live", status_code=201, response_model=ShowWithKeyOut, summary="Schedule a live show")
def create_show(
    request: Request, body: ShowIn, user: User = required_user, session: Session = db_session
) -> ShowWithKeyOut:
    show, key = live.create_show(session, user, body.title, body.starts_at, body.product_ids)
    return _with_key(request, show, key)


@router.get("/api/v1/live", response_model=list[ShowOut], summary="Live shows, newest first")
def list_shows(status: ShowStatus | None = None, session: Session = db_session) -> list[ShowOut]:
    return [show_out(show) for show in live.list_shows(session, status)]


@router.get("/api/v1/live/{show_id}", response_model=ShowOut, summary="One live show (never its key)")
def read_show(show_id: RowId, session: Session = db_session) -> ShowOut:
    return show_out(live.get_show(session, show_id))


@router.post(
    "/api/v1/live/{show_id}/stream-key", response_model=ShowWithKeyOut, summary="Replace the show's stream key"
)
def replace_stream_key(
    request: Request, show_id: RowId, user: User = required_user, session: Session = db_session
) -> ShowWithKeyOut:
    show, key = live.replace_stream_key(session, show_id, user)
    return _with_key(request, show, key)


@router.post("/api/v1/live/{show_id}/end", response_model=ShowOut, summary="End the show for good")
def end_show(show_id: RowId, user: User = required_user, session: Session = db_session) -> ShowOut:
    return show_out(live.end_show(session, show_id, user))


# nginx-rtmp's callbacks (`notify_method post`: a form). Any 2xx lets the publisher in (or keep streaming); anything
# else drops it. Only the RTMP server knows the secret path segment: for anyone else the routes do not exist, and
# the secret is checked before the body is read or the database asked.
Callback = Callable[[Session, live.Publisher], object]


async def _rtmp_callback(request: Request, secret: str, callback: Callback, answer: str) -> PlainTextResponse:
    ctx = get_context(request)
    if not rtmp.is_callback_secret(ctx.settings, secret):
        raise NotFound("Not found.")
    publisher = live.Publisher.from_form((await request.form()).multi_items())

    def run() -> None:
        with ctx.db.session(write=True) as session:
            callback(session, publisher)

    await run_in_threadpool(run)
    return PlainTextResponse(answer)


@router.post("/rtmp/{secret}/on_publish", include_in_schema=False)
async def on_publish(request: Request, secret: str) -> PlainTextResponse:
    return await _rtmp_callback(request, secret, live.authorize_publish, "publishing")


@router.post("/rtmp/{secret}/on_update", include_in_schema=False)
async def on_update(request: Request, secret: str) -> PlainTextResponse:
    return await _rtmp_callback(request, secret, live.still_publishing, "publishing")


@router.post("/rtmp/{secret}/on_publish_done", include_in_schema=False)
async def on_publish_done(request: Request, secret: str) -> PlainTextResponse:
    return await _rtmp_callback(request, secret, live.publish_done, "done")
