"""/api/v1/videos/{id}/tags and /api/v1/videos/{id}/timeline: products in the picture."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vetrina.accounts.models import User
from vetrina.errors import InvalidInput
from vetrina.i18n import _, current_language, prefer
from vetrina.rights import service as rights
from vetrina.shoppable import service as shoppable
from vetrina.shoppable.models import ProductTag
from vetrina.web.deps import (
    MAX_ROW_ID,
    RowId,
    db_session,
    get_context,
    headers_user,
    optional_user,
    required_user,
    signed_out,
    viewer_territory,
)

router = APIRouter(prefix="/api/v1/videos/{video_id}", tags=["shoppable"])
Seconds = Annotated[float, Field(ge=0, le=7 * 24 * 3600, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class BoxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: Fraction
    y: Fraction
    w: Fraction
    h: Fraction


class KeyframeIn(BoxIn):
    t: Seconds


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: int = Field(ge=1, le=MAX_ROW_ID)
    start_s: Seconds
    end_s: Seconds
    box: BoxIn | None = None
    keyframes: list[KeyframeIn] = Field(default_factory=list, max_length=shoppable.MAX_KEYFRAMES)
    label: str = Field("", max_length=100)


class TagChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: int | None = Field(None, ge=1, le=MAX_ROW_ID)
    start_s: Seconds | None = None
    end_s: Seconds | None = None
    box: BoxIn | None = None
    keyframes: list[KeyframeIn] | None = Field(None, max_length=shoppable.MAX_KEYFRAMES)
    label: str | None = Field(None, max_length=100)


class TagOut(BaseModel):
    id: int
    video_id: int
    product_id: int
    start_s: float
    end_s: float
    box: BoxIn | None
    keyframes: list[KeyframeIn]
    label: str
    created_by: int


def tag_out(tag: ProductTag) -> TagOut:
    return TagOut(
        id=tag.id,
        video_id=tag.video_id,
        product_id=tag.product_id,
        start_s=tag.start_s,
        end_s=tag.end_s,
        box=tag.box,
        keyframes=tag.keyframes,
        label=tag.label,
        created_by=tag.created_by,
    )


@router.post("/tags", status_code=201, response_model=TagOut, summary="Tag a product in the video")
def create_tag(
    request: Request, video_id: RowId, body: TagIn, user: User = required_user, session: Session = db_session
) -> TagOut:
    spec = shoppable.TagSpec(
        product_id=body.product_id,
        start_s=body.start_s,
        end_s=body.end_s,
        box=body.box.model_dump() if body.box else None,
        keyframes=tuple(k.model_dump() for k in body.keyframes),
        label=body.label,
    )
    created = shoppable.create_tag(get_context(request), session, video_id, user, spec)
    return tag_out(created)


@router.get("/tags", response_model=list[TagOut], summary="The video's tags, in time order")
def list_tags(video_id: RowId, user: User | None = optional_user, session: Session = db_session) -> list[TagOut]:
    return [tag_out(t) for t in shoppable.list_tags(session, video_id, user)]


@router.get("/tags/{tag_id}", response_model=TagOut, summary="One tag")
def read_tag(
    video_id: RowId, tag_id: RowId, user: User | None = optional_user, session: Session = db_session
) -> TagOut:
    return tag_out(shoppable.get_tag(session, video_id, tag_id, user))


@router.patch("/tags/{tag_id}", response_model=TagOut, summary="Move, resize or relabel a tag")
def change_tag(
    request: Request,
    video_id: RowId,
    tag_id: RowId,
    body: TagChanges,
    user: User = required_user,
    session: Session = db_session,
) -> TagOut:
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None and k != "box")  # a null box removes the box
    if nulls:
        raise InvalidInput(_("{fields} cannot be null.", fields=", ".join(nulls)), field=nulls[0])
    changed = shoppable.update_tag(get_context(request), session, video_id, tag_id, user, changes)
    return tag_out(changed)


@router.delete("/tags/{tag_id}", status_code=204, summary="Remove a tag")
def delete_tag(
    request: Request, video_id: RowId, tag_id: RowId, user: User = required_user, session: Session = db_session
) -> Response:
    shoppable.delete_tag(get_context(request), session, video_id, tag_id, user)
    return Response(status_code=204)


@router.get("/timeline", summary="Everything the player needs for one play (ETag-cached)")
async def timeline(
    request: Request,
    video_id: RowId,
    if_none_match: Annotated[str | None, Header()] = None,
    lang: Annotated[
        Literal["en", "it", "zh"] | None,
        Query(description="The cards' language (the player sends its page's); else the asker's, by Accept-Language."),
    ] = None,
) -> Response:
    """Read on every play. An anonymous viewer of a public title that plays everywhere is answered from this
    process's memory on the event loop: no worker thread, whose hand-offs on the GIL made the tail of this route's
    latency. Everyone else, and anything not in memory, is answered in a worker thread as any route is."""
    if lang is not None:
        prefer(lang)
    if signed_out(request):
        ctx = get_context(request)
        if ctx.caches.get(rights.RightsCache).remembered(video_id) == []:  # no licences: the same answer anywhere
            # Cached only while public, per language (the cards' titles and prices are written in it).
            rendered = ctx.caches.get(shoppable.TimelineCache).fresh(video_id, current_language())
            if rendered is not None:
                return _timeline_answer(rendered, True, if_none_match, lang is not None)
    return await run_in_threadpool(_timeline_in_thread, request, video_id, if_none_match, lang)


def _timeline_in_thread(request: Request, video_id: int, if_none_match: str | None, lang: str | None) -> Response:
    ctx = get_context(request)
    user = headers_user(request)
    if lang is not None:
        prefer(lang)  # the address's language wins over the asker's own setting, as it chose the cache entry
    with ctx.db.session() as session:
        grant = rights.require(ctx, session, video_id, viewer_territory(request), "stream", user)
        rendered = shoppable.rendered_timeline(ctx, session, video_id, user)
    # A video only its owner may see must never be stored by a shared cache.
    # A licensed title's answer depends on where the viewer is: shared caches must not keep it either.
    return _timeline_answer(rendered, rendered.public and not grant.managed, if_none_match, lang is not None)


def _timeline_answer(
    rendered: shoppable.RenderedTimeline, shareable: bool, if_none_match: str | None, language_in_address: bool
) -> Response:
    # Stock changes while people watch: caches revalidate after a few seconds (a 304 costs little).
    cache_control = "public, max-age=5, must-revalidate" if shareable else "private, no-store"
    headers = {"ETag": rendered.etag, "Cache-Control": cache_control}
    if not language_in_address:  # the cards speak the asker's language, chosen by these headers (web/language.py)
        headers["Vary"] = "Accept-Language, Cookie"
    if if_none_match and rendered.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)
