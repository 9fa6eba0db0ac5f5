"""/api/v1/live (live shows and their stream keys) and /rtmp/{secret}/... (the RTMP server's publish checks)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.errors import NotFound
from vetrina.live import rtmp
from vetrina.live import service as live
from vetrina.live.models import LiveShow, ShowStatus
from vetrina.web.deps import MAX_ROW_ID, RowId, db_session, get_context, required_user

router = APIRouter(tags=["live"])
T = TypeVar("T")


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
    hls_url: str | None = Field(description="The show's HLS: live while it streams, then its replay.")
    stream_problem: str | None = Field(description="Why the stream was last dropped after it was accepted.")
    replay_video_id: int | None = Field(description="The video the show became once it ended.")


class ShowWithKeyOut(ShowOut):
    stream_key: str = Field(description="Shown in this answer only: publish to `rtmp_url`/`stream_key`.")
    rtmp_url: str


def show_out(request: Request, show: LiveShow) -> ShowOut:
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
        hls_url=live.hls_url(get_context(request), show),
        stream_problem=show.stream_problem,
        replay_video_id=show.replay_video_id,
    )


def _with_key(request: Request, show: LiveShow, key: str) -> ShowWithKeyOut:
    rtmp_url = get_context(request).settings.live_rtmp_url
    return ShowWithKeyOut(**show_out(request, show).model_dump(), stream_key=key, rtmp_url=rtmp_url)


@router.post("/api/v1/live", status_code=201, response_model=ShowWithKeyOut, summary="Schedule a live show")
def create_show(
    request: Request, body: ShowIn, user: User = required_user, session: Session = db_session
) -> ShowWithKeyOut:
    show, key = live.create_show(session, user, body.title, body.starts_at, body.product_ids)
    return _with_key(request, show, key)


@router.get("/api/v1/live", response_model=list[ShowOut], summary="Live shows, newest first")
def list_shows(request: Request, status: ShowStatus | None = None, session: Session = db_session) -> list[ShowOut]:
    return [show_out(request, show) for show in live.list_shows(session, status)]


@router.get("/api/v1/live/{show_id}", response_model=ShowOut, summary="One live show (never its key)")
def read_show(request: Request, show_id: RowId, session: Session = db_session) -> ShowOut:
    return show_out(request, live.get_show(session, show_id))


@router.post(
    "/api/v1/live/{show_id}/stream-key", response_model=ShowWithKeyOut, summary="Replace the show's stream key"
)
def replace_stream_key(
    request: Request, show_id: RowId, user: User = required_user, session: Session = db_session
) -> ShowWithKeyOut:
    show, key = live.replace_stream_key(session, show_id, user)
    return _with_key(request, show, key)


@router.post("/api/v1/live/{show_id}/end", response_model=ShowOut, summary="End the show for good")
def end_show(request: Request, show_id: RowId, user: User = required_user, session: Session = db_session) -> ShowOut:
    return show_out(request, live.end_show(session, show_id, user))


# nginx-rtmp's callbacks (`notify_method post`: a form). A 2xx lets the publisher or player in (or keep going), a
# 3xx to a name renames the publisher's stream; anything else drops it. Only the RTMP server knows the secret path
# segment: for anyone else the routes do not exist, and the secret is checked before the body is read or the
# database asked.
async def _publisher(request: Request, secret: str) -> live.Publisher:
    if not rtmp.is_callback_secret(get_context(request).settings, secret):
        raise NotFound("Not found.")
    return live.Publisher.from_form((await request.form()).multi_items())


async def _in_write_session(request: Request, work: Callable[[Session], T]) -> T:
    ctx = get_context(request)

    def run() -> T:
        with ctx.db.session(write=True) as session:
            return work(session)

    return await run_in_threadpool(run)


def _may_pull(request: Request, publisher: live.Publisher) -> PlainTextResponse:
    """A player of a show's raw stream: only the live encoder, by its token (unexpired when the pull starts)."""
    starting = clock.now().timestamp() if publisher.call == "play" else None
    if not rtmp.is_pull_token(get_context(request).settings, publisher.key, publisher.pull, starting):
        raise live.PublishRefused("Only Vetrina's live encoder plays a show's raw stream.")
    return PlainTextResponse("playing")


@router.post("/rtmp/{secret}/on_publish", include_in_schema=False)
async def on_publish(request: Request, secret: str) -> Response:
    publisher = await _publisher(request, secret)
    show_id = await _in_write_session(request, lambda session: live.authorize_publish(session, publisher).id)
    return Response(status_code=302, headers={"Location": rtmp.stream_name(show_id)})


@router.post("/rtmp/{secret}/on_play", include_in_schema=False)
async def on_play(request: Request, secret: str) -> PlainTextResponse:
    return _may_pull(request, await _publisher(request, secret))


@router.post("/rtmp/{secret}/on_update", include_in_schema=False)
async def on_update(request: Request, secret: str) -> PlainTextResponse:
    publisher = await _publisher(request, secret)
    if publisher.plays:
        return _may_pull(request, publisher)
    await _in_write_session(request, lambda session: live.still_publishing(session, publisher))
    return PlainTextResponse("publishing")


@router.post("/rtmp/{secret}/on_publish_done", include_in_schema=False)
async def on_publish_done(request: Request, secret: str) -> PlainTextResponse:
    publisher = await _publisher(request, secret)
    await _in_write_session(request, lambda session: live.publish_done(session, publisher))
    return PlainTextResponse("done")
