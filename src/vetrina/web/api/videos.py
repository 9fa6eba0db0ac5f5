"""/api/v1/videos: upload, read, list, change and remove videos."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.errors import NotAuthenticated
from vetrina.i18n import _
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.rights import service as rights
from vetrina.rights.service import Grant
from vetrina.web.api.schemas import ShownText
from vetrina.web.deps import RowId, db_session, get_context, optional_user, required_user, territory
from vetrina.web.uploads import add_uploaded_video


class RenditionOut(BaseModel):
    height: int
    width: int
    bandwidth: int


class VideoOut(BaseModel):
    id: int
    title: str
    description: str
    owner_id: int
    status: str = Field(description="processing | ready | failed")
    progress: float = Field(description="Share of the transcode done, 0.0 to 1.0.")
    duration_s: float
    width: int
    height: int
    published: bool
    allow_merchant_tags: bool
    hls_url: str | None
    poster_url: str | None
    thumbnails_url: str | None = Field(description="WebVTT track of seek-preview thumbnails.")
    renditions: list[RenditionOut]
    error: ShownText | None
    created_at: datetime
    distributor: str | None = Field(None, description="Under whose licence the title plays here (licensed titles).")


class VideoAccepted(BaseModel):
    id: int
    status: str


class VideoPage(BaseModel):
    items: list[VideoOut]
    total: int
    page: int
    per_page: int


class VideoChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=media.MAX_TITLE)
    description: str | None = Field(None, max_length=media.MAX_DESCRIPTION)
    published: bool | None = None
    allow_merchant_tags: bool | None = Field(None, description="Let other merchants tag their own products.")


def video_out(video: Video, ctx: Context, *, territory: str, grant: Grant | None = None) -> VideoOut:
    """The video, with media URLs that play only where the viewer is (`territory`), on every path that hands them
    out: a link copied abroad does not play a title licensed territory by territory."""
    urls = media.video_media_urls(ctx, video, territory)
    return VideoOut(
        id=video.id,
        title=video.title,
        description=video.description,
        owner_id=video.owner_id,
        status=video.status,
        progress=video.progress,
        duration_s=round(video.duration_s, 3),
        width=video.width,
        height=video.height,
        published=video.published,
        allow_merchant_tags=video.allow_merchant_tags,
        renditions=[RenditionOut(**r) for r in video.renditions],
        error=video.error,
        created_at=video.created_at,
        distributor=grant.distributor if grant is not None else None,
        **urls,
    )


router = APIRouter(prefix="/api/v1/videos", tags=["videos"])


@router.post(
    "",
    status_code=202,
    response_model=VideoAccepted,
    summary="Upload a video; it is transcoded in the background",
)
def upload_video(
    request: Request,
    title: Annotated[str, Form(max_length=media.MAX_TITLE * 4)],
    file: Annotated[UploadFile | None, File()] = None,
    description: Annotated[str, Form(max_length=media.MAX_DESCRIPTION * 4)] = "",
    user: User = required_user,
    session: Session = db_session,
) -> VideoAccepted:
    video = add_uploaded_video(get_context(request), session, user, file, title, description)
    return VideoAccepted(id=video.id, status=video.status)


@router.get("", response_model=VideoPage, summary="Published videos, newest first")
def list_videos(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 24,
    mine: bool = False,
    user: User | None = optional_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> VideoPage:
    owner = None
    if mine:
        if user is None:
            raise NotAuthenticated(_("Sign in to list your own videos."))
        owner = user
    result = media.list_videos(
        session, page, per_page, owner=owner, shown_if=rights.listable(viewer_territory, clock.now())
    )
    ctx = get_context(request)
    items = [video_out(v, ctx, territory=viewer_territory) for v in result.items]
    return VideoPage(items=items, total=result.total, page=page, per_page=per_page)


@router.get("/{video_id}", response_model=VideoOut, summary="One video, with its playback URLs when ready")
def read_video(
    request: Request,
    video_id: RowId,
    user: User | None = optional_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> VideoOut:
    ctx = get_context(request)
    video, grant = rights.playable(ctx, session, video_id, user, viewer_territory)
    return video_out(video, ctx, territory=viewer_territory, grant=grant)


@router.patch("/{video_id}", response_model=VideoOut, summary="Change a video's title, description or visibility")
def change_video(
    request: Request,
    video_id: RowId,
    changes: VideoChanges,
    user: User = required_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> VideoOut:
    ctx = get_context(request)
    video = media.update_video(ctx, session, video_id, user, changes.model_dump(exclude_none=True))
    session.flush()
    return video_out(video, ctx, territory=viewer_territory)


@router.delete("/{video_id}", status_code=204, summary="Remove a video and its media")
def remove_video(
    request: Request, video_id: RowId, user: User = required_user, session: Session = db_session
) -> Response:
    media.delete_video(get_context(request), session, video_id, user)
    return Response(status_code=204)
