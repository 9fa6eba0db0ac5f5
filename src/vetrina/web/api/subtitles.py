"""/api/v1/videos/{id}/subtitles: a video's subtitles, one WebVTT file per language (media/subtitles.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.media import subtitles
from vetrina.media.models import VideoSubtitle
from vetrina.rights import service as rights
from vetrina.web.deps import RowId, db_session, get_context, optional_user, required_user, territory

router = APIRouter(prefix="/api/v1/videos", tags=["subtitles"])
LanguageTag = Annotated[str, Path(max_length=35, description="A BCP 47 language tag, such as it or zh-Hans.")]


class SubtitleOut(BaseModel):
    language: str = Field(description="BCP 47 language tag.")
    name: str = Field(description="The language's own name (Italiano, 中文), as players show it.")
    cue_count: int
    size_bytes: int
    source: str = Field(description="upload | feed")
    url: str = Field(description="The WebVTT file: a signed link that expires, valid where the viewer is.")
    created_at: datetime


def subtitle_out(ctx: Context, row: VideoSubtitle, viewer_territory: str) -> SubtitleOut:
    return SubtitleOut(
        language=row.language,
        name=subtitles.own_name(row.language),
        cue_count=row.cue_count,
        size_bytes=row.size_bytes,
        source=row.source,
        url=subtitles.subtitle_url(ctx, row, viewer_territory),
        created_at=row.created_at,
    )


@router.post(
    "/{video_id}/subtitles",
    status_code=201,
    response_model=SubtitleOut,
    summary="Add or replace the video's subtitles in one language (WebVTT, or SRT converted to WebVTT)",
    responses={200: {"description": "Replaced that language's subtitles."}},
)
def upload_subtitles(
    request: Request,
    response: Response,
    video_id: RowId,
    language: Annotated[str, Form(max_length=200)],
    file: Annotated[UploadFile | None, File()] = None,
    user: User = required_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> SubtitleOut:
    if file is None:
        raise InvalidInput(_("Choose a subtitle file to upload."), field="file")
    ctx = get_context(request)
    row, created = subtitles.add_subtitles(ctx, session, video_id, user, language, file.file)
    response.status_code = 201 if created else 200
    return subtitle_out(ctx, row, viewer_territory)


@router.get("/{video_id}/subtitles", response_model=list[SubtitleOut], summary="The video's subtitles, by language")
def list_subtitles(
    request: Request,
    video_id: RowId,
    user: User | None = optional_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> list[SubtitleOut]:
    ctx = get_context(request)
    video, _grant = rights.playable(ctx, session, video_id, user, viewer_territory)
    return [subtitle_out(ctx, row, viewer_territory) for row in subtitles.list_subtitles(session, video.id)]


@router.delete(
    "/{video_id}/subtitles/{language}", status_code=204, summary="Remove the video's subtitles in a language"
)
def remove_subtitles(
    request: Request,
    video_id: RowId,
    language: LanguageTag,
    user: User = required_user,
    session: Session = db_session,
) -> Response:
    subtitles.delete_subtitles(get_context(request), session, video_id, user, language)
    return Response(status_code=204)
