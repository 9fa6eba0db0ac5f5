"""/api/v1/live (live shows and their stream keys) and /rtmp/{secret}/... (the RTMP server's publish checks)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.commerce import flash
from vetrina.db import Database, after_commit
from vetrina.errors import Conflict, NotFound
from vetrina.i18n import _, localise
from vetrina.live import analytics as live_analytics
from vetrina.live import controls, rtmp
from vetrina.live import service as live
from vetrina.live.hub import CLOSED, LiveHub, fleeting_frame, sse_frame
from vetrina.live.models import LiveEvent, LivePin, LiveShow, ShowMerchant, ShowStatus
from vetrina.money import Money, PositiveMoneyModel
from vetrina.web.api.schemas import ShownText
from vetrina.web.deps import MAX_ROW_ID, RowId, db_session, get_context, required_user
from vetrina.web.idempotent import run_once
from vetrina.web.limits import client_address

router = APIRouter(tags=["live"])
T = TypeVar("T")
log = logging.getLogger(__name__)
VIEWER_COUNT_EVERY_S = 5


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
    stream_problem: ShownText | None = Field(description="Why the stream was last dropped after it was accepted.")
    replay_video_id: int | None = Field(description="The video the show became once it ended.")


class ShowWithKeyOut(ShowOut):
    stream_key: str = Field(description="Shown in this answer only: publish to `rtmp_url`/`stream_key`.")
    rtmp_url: str


def show_out(request: Request, show: LiveShow, session: Session | None = None) -> ShowOut:
    """The show as anyone sees it (with `session`: only the products it shows, so a partner's show does not tell
    which merchants have not consented), or as its host just made it (without: every product it asked for)."""
    product_ids = show.product_ids if session is None else [p.id for p in live.featured_products(session, show)]
    return ShowOut(
        id=show.id,
        host_id=show.host_id,
        title=show.title,
        status=ShowStatus(show.status),
        product_ids=product_ids,
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
    return [show_out(request, show, session) for show in live.list_shows(session, status)]


@router.get("/api/v1/live/{show_id}", response_model=ShowOut, summary="One live show (never its key)")
def read_show(request: Request, show_id: RowId, session: Session = db_session) -> ShowOut:
    return show_out(request, live.get_show(session, show_id), session)


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
    return show_out(request, live.end_show(session, show_id, user), session)


@router.get("/api/v1/live/{show_id}/analytics", summary="The show's analytics (its host and admins)")
def show_analytics(show_id: RowId, user: User = required_user, session: Session = db_session) -> dict[str, Any]:
    return live_analytics.show_report(session, show_id, user)


# Partners' shows of merchants' products ----------------------------------------------------------------------------


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: bool = Field(description="Whether the show may pin and sell your products it features.")


class ConsentOut(BaseModel):
    show_id: int
    title: str
    host_id: int
    show_status: ShowStatus
    product_ids: list[int] = Field(description="Your products the show features.")
    status: Literal["asked", "accepted", "declined"]
    decided_at: datetime | None


def _consent_out(session: Session, show: LiveShow, asked: ShowMerchant) -> ConsentOut:
    mine = live.merchant_products(session, show, asked.merchant_id)
    return ConsentOut(
        show_id=show.id,
        title=show.title,
        host_id=show.host_id,
        show_status=ShowStatus(show.status),
        product_ids=mine,
        status=asked.status,
        decided_at=asked.decided_at,
    )


@router.get("/api/v1/live-consents", response_model=list[ConsentOut], summary="Partners' shows asking for you")
def list_consents(user: User = required_user, session: Session = db_session) -> list[ConsentOut]:
    return [_consent_out(session, show, asked) for show, asked in live.shows_asking(session, user)]


@router.put("/api/v1/live/{show_id}/consent", response_model=ConsentOut, summary="Let a partner's show sell yours")
def decide_consent(
    request: Request, show_id: RowId, body: ConsentIn, user: User = required_user, session: Session = db_session
) -> ConsentOut:
    asked, events = controls.decide_consent(session, show_id, user, body.accept)
    publish_after_commit(request, session, show_id, events)
    return _consent_out(session, live.get_show(session, show_id), asked)


# The live selling controls and the show's event stream ---------------------------------------------------------------


def live_hub(request: Request) -> LiveHub:
    return request.app.state.live_hub


def publish_after_commit(request: Request, session: Session, show_id: int, events: list[LiveEvent]) -> None:
    """The events' frames, to every viewer of the show once the transaction that made them has committed."""
    frames = [sse_frame(event.id, event.type, controls.event_data(event)) for event in events]
    hub = live_hub(request)
    after_commit(session, lambda: hub.publish(show_id, frames))


class StreamTimed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream_time: AwareDatetime | None = Field(
        None,
        description="The program date time the host's preview showed when they acted (hls.js `playingDate`); "
        "default: now, the frame on camera.",
    )


class PinIn(StreamTimed):
    product_id: int = Field(ge=1, le=MAX_ROW_ID)


class PinOut(BaseModel):
    pin_id: int
    product_id: int
    pinned_at: datetime
    unpinned_at: datetime | None


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=controls.MAX_CHAT_CHARS)


class ChatOut(BaseModel):
    message_id: int
    viewer: str = Field(description="The author's handle in this show (not their account).")
    text: str
    stream_time: datetime
    delivered: bool = Field(description="False when its author is muted: it reaches nobody else.")


class ModerationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["mute", "ban", "delete"]
    viewer: str | None = Field(None, max_length=32, description="The viewer's handle, as chat events name them.")
    message_id: int | None = Field(None, ge=1, le=MAX_ROW_ID)


class ReactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal[controls.REACTIONS]  # type: ignore[valid-type]


def _pin_out(placed: LivePin) -> PinOut:
    return PinOut(
        pin_id=placed.id, product_id=placed.product_id, pinned_at=placed.pinned_at, unpinned_at=placed.unpinned_at
    )


@router.post("/api/v1/live/{show_id}/pins", status_code=201, response_model=PinOut, summary="Pin a featured product")
def pin_product(
    request: Request, show_id: RowId, body: PinIn, user: User = required_user, session: Session = db_session
) -> PinOut:
    placed, events = controls.pin(get_context(request), session, show_id, user, body.product_id, body.stream_time)
    publish_after_commit(request, session, show_id, events)
    return _pin_out(placed)


@router.get("/api/v1/live/{show_id}/pins", response_model=list[PinOut], summary="The show's pins, in stream time")
def list_pins(show_id: RowId, session: Session = db_session) -> list[PinOut]:
    live.get_show(session, show_id)
    return [_pin_out(placed) for placed in controls.pins(session, show_id)]


@router.delete("/api/v1/live/{show_id}/pins/{pin_id}", status_code=204, summary="Unpin a product")
def unpin_product(
    request: Request,
    show_id: RowId,
    pin_id: RowId,
    stream_time: Annotated[
        AwareDatetime | None, Query(description="The program date time the host's preview showed (else now).")
    ] = None,
    user: User = required_user,
    session: Session = db_session,
) -> Response:
    event = controls.unpin(session, show_id, user, pin_id, stream_time)
    publish_after_commit(request, session, show_id, [event])
    return Response(status_code=204)


class FlashSaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: int = Field(ge=1, le=MAX_ROW_ID)
    price: PositiveMoneyModel
    quantity: int = Field(ge=1, le=flash.MAX_UNITS, description="Units offered, taken out of stock now.")
    seconds: int = Field(ge=flash.MIN_SECONDS, le=flash.MAX_SECONDS, description="How long the sale lasts.")
    per_buyer: int = Field(1, ge=1, le=flash.MAX_UNITS, description="The most one buyer may take.")


@router.post("/api/v1/live/{show_id}/flash-sales", status_code=201, summary="Start a flash sale in the show")
def start_flash_sale(request: Request, show_id: RowId, body: FlashSaleIn, user: User = required_user) -> JSONResponse:
    """With an Idempotency-Key, a retried request opens the sale once (it takes stock)."""

    def start(session: Session) -> dict[str, Any]:
        sale, event = controls.start_flash_sale(
            get_context(request),
            session,
            show_id,
            user,
            body.product_id,
            Money(body.price.amount, body.price.currency),
            body.quantity,
            body.seconds,
            body.per_buyer,
        )
        publish_after_commit(request, session, show_id, [event])
        return flash.sale_state(sale)

    return run_once(request, user, body, start, 201)


@router.post("/api/v1/live/{show_id}/flash-sales/{sale_id}/end", summary="End a flash sale before its time")
def end_flash_sale(
    request: Request, show_id: RowId, sale_id: RowId, user: User = required_user, session: Session = db_session
) -> dict[str, Any]:
    sale = controls.end_flash_sale(session, show_id, user, sale_id)
    announce_flash_sale(request, session, sale.id)
    return flash.sale_state(sale)


def announce_flash_sale(request: Request, session: Session, sale_id: int) -> None:
    """After an order in a flash sale commits: the show's viewers learn what is left (not kept: the next says it)."""
    sale = flash.get_sale(session, sale_id)
    if sale.show_id is not None:
        hub, show_id, state = live_hub(request), sale.show_id, flash.sale_state(sale)
        after_commit(session, lambda: hub.publish(show_id, [fleeting_frame("flash_sale_update", state)]))


@router.post("/api/v1/live/{show_id}/chat", status_code=201, response_model=ChatOut, summary="Say something")
def post_chat(
    request: Request, show_id: RowId, body: ChatIn, user: User = required_user, session: Session = db_session
) -> ChatOut:
    ctx = get_context(request)
    ctx.rate_limits.hit("live_chat", "user", str(user.id))
    message, event = controls.post_chat(ctx, session, show_id, user, body.text)
    if event is not None:
        publish_after_commit(request, session, show_id, [event])
    return ChatOut(
        message_id=message.id,
        viewer=controls.viewer_handle(ctx, show_id, user.id),
        text=message.text,
        stream_time=message.stream_time,
        delivered=event is not None,
    )


@router.post("/api/v1/live/{show_id}/moderation", summary="Mute or ban a viewer, or delete a message")
def moderate(
    request: Request, show_id: RowId, body: ModerationIn, user: User = required_user, session: Session = db_session
) -> dict[str, str]:
    ctx = get_context(request)
    events = controls.moderate(ctx, session, show_id, user, body.action, body.viewer, body.message_id)
    publish_after_commit(request, session, show_id, events)
    return {"done": body.action}


@router.post("/api/v1/live/{show_id}/reactions", status_code=202, summary="React (a heart, a clap...)")
def react(request: Request, show_id: RowId, body: ReactionIn, user: User = required_user) -> dict[str, str]:
    """Reactions are fleeting: sent to the viewers now, counted, never stored one by one."""
    ctx = get_context(request)
    ctx.rate_limits.hit("live_reaction", "user", str(user.id))
    with ctx.db.session() as session:
        show = live.get_show(session, show_id)
        if not show.on_air:
            raise Conflict(_("The show is not on air."), current_status=show.status)
    live_hub(request).publish(show_id, [fleeting_frame("reaction", {"kind": body.kind})])
    return {"sent": body.kind}


@router.get(
    "/api/v1/live/{show_id}/events",
    response_class=StreamingResponse,
    summary="The show's events as Server-Sent Events: pins, sales, chat, viewer counts, each with its stream time",
)
async def show_events(request: Request, show_id: RowId) -> StreamingResponse:
    ctx, hub = get_context(request), live_hub(request)
    last_seen = request.headers.get("last-event-id", "")
    after = int(last_seen) if last_seen.isdigit() and len(last_seen) < 16 else None
    address = client_address(request)

    def on_air_now() -> bool:
        with ctx.db.session() as session:
            return live.get_show(session, show_id).on_air

    def backlog() -> list[str]:
        with ctx.db.session() as session:
            events = (
                controls.events_after(session, show_id, after)
                if after is not None
                else controls.opening_events(session, show_id)
            )
            return [sse_frame(event.id, event.type, controls.event_data(event)) for event in events]

    on_air = await run_in_threadpool(on_air_now)  # an unknown show: 404 before any stream

    async def frames() -> AsyncIterator[str]:
        # Counted and joined inside the stream, so whatever ends it (the client gone before its first byte too)
        # also lets go; a show not on air sends its backlog and ends (the browser asks again later).
        if not hub.admit(address):
            yield "retry: 30000\n\n" + sse_frame(
                None, "refused", {"detail": localise(_("Too many event streams from here."))}
            )
            return
        viewer = hub.join(show_id)  # before the backlog is read: an event between the two comes twice (ids dedupe)
        try:
            yield f"retry: {2000 if on_air else 10_000}\n\n"
            for frame in await run_in_threadpool(backlog):
                yield frame
            while on_air:
                # No timeout here (in Python 3.11 `wait_for` makes a task per frame): the viewer count every few
                # seconds keeps the connection from looking idle to proxies.
                frame = await viewer.frames.get()
                if frame == CLOSED:
                    return
                yield frame
        finally:
            hub.leave(viewer)
            hub.release(address)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def count_live_viewers(hub: LiveHub, db: Database) -> None:
    """Every few seconds, each show this process streams to is told how many watch it (on every process), and the
    count is kept for the show's analytics."""
    while True:
        await asyncio.sleep(VIEWER_COUNT_EVERY_S)
        counts = {}
        watched = hub.shows_watched()
        try:
            over = await run_in_threadpool(live.not_on_air, db, watched)
        except Exception:  # a busy or unreachable database: the streams are ended at a later tick
            log.warning("live event streams: could not ask which shows ended", exc_info=True)
            over = set()
        for show_id in watched:
            if show_id in over:  # the show ended: its viewers' streams end (their players stop asking)
                hub.end(show_id, sse_frame(None, "ended", {"type": "ended", "payload": {}}))
                continue
            count = await run_in_threadpool(hub.viewer_count, show_id)  # Redis down: this process's count
            hub.deliver(show_id, [fleeting_frame("viewers", {"count": count})])
            counts[show_id] = count
        try:
            await run_in_threadpool(live_analytics.record_viewers, db, counts)
        except Exception:  # a busy or unreachable database costs a sample, never the counting
            log.warning("live viewer counts could not be kept", exc_info=True)


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
