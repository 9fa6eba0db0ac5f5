"""/api/v1/studio: templates, the merchant's image and music library, previews and spot renders."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.catalog.service import ensure_can_sell
from vetrina.studio import assets
from vetrina.studio import service as studio
from vetrina.studio.models import AssetKind, Spot, StudioAsset
from vetrina.studio.templates import TEMPLATES
from vetrina.web.api.schemas import ShownText
from vetrina.web.deps import MAX_ROW_ID, RowId, db_session, get_context, required_user
from vetrina.web.idempotent import run_once
from vetrina.web.uploads import chosen_upload, saved_upload

router = APIRouter(tags=["studio"])
Id = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class SpotIn(BaseModel):
    """What a spot shows and how; images default to the products' own photos."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(max_length=40, examples=["showcase"])
    duration_s: int = Field(examples=[15], description="6, 15 or 30")
    aspect: str = Field(max_length=8, examples=["16:9"], description="16:9, 9:16 or 1:1")
    product_ids: list[Id] = Field(min_length=1, max_length=studio.MAX_PRODUCTS)
    image_ids: list[Id] = Field([], max_length=10, description="Studio uploads, in the order to show them.")
    product_image_ids: list[Id] = Field([], max_length=10, description="Product photos, shown before uploads.")
    headline: str = Field("", max_length=studio.MAX_HEADLINE)
    lines: list[Annotated[str, Field(max_length=studio.MAX_LINE)]] = Field([], max_length=3)
    show_price: bool = True
    cta: str | None = Field(
        None, max_length=studio.MAX_CTA, description="The call to action; default: the template's, in `language`."
    )
    music_id: Id | None = None
    voiceover: bool = False
    brand_color: str | None = Field(None, max_length=7, description="#rrggbb; default: the channel's")
    text_color: str | None = Field(None, max_length=7, description="#rrggbb; default: the channel's")
    logo_id: Id | None = Field(None, description="A studio image drawn in the top corner.")
    title: str | None = Field(None, max_length=200, description="The video's title; default: the headline.")
    language: Literal["en", "it", "zh"] | None = Field(
        None, description="Language of the template's own labels (price, call to action); default: yours."
    )

    def to_request(self) -> studio.SpotRequest:
        return studio.SpotRequest(**self.model_dump())


class SpotOut(BaseModel):
    id: int
    status: str = Field(description="rendering | ready | failed")
    progress: float
    video_id: int | None
    error: ShownText | None
    notes: list[ShownText]
    template: str
    duration_s: int
    aspect: str
    title: str
    watch_url: str | None
    created_at: datetime


class SpotAccepted(BaseModel):
    id: int
    status: str


class PreviewOut(BaseModel):
    url: str
    width: int
    height: int
    duration_s: int
    notes: list[ShownText]


class AssetOut(BaseModel):
    id: int
    kind: str
    filename: str
    width: int | None
    height: int | None
    duration_s: float | None
    thumb_url: str | None
    created_at: datetime


def spot_out(session: Session, spot: Spot) -> SpotOut:
    state = studio.spot_state(session, spot)
    spec = spot.spec
    return SpotOut(
        id=spot.id,
        status=state.status,
        progress=state.progress,
        video_id=spot.video_id,
        error=state.error,
        notes=spot.notes,
        template=spec["template"],
        duration_s=spec["duration_s"],
        aspect=spec["aspect"],
        title=spec["title"],
        watch_url=f"/watch/{spot.video_id}" if state.status == "ready" else None,
        created_at=spot.created_at,
    )


def asset_out(request: Request, asset: StudioAsset) -> AssetOut:
    ctx = get_context(request)
    thumb = None
    if asset.kind == AssetKind.image:
        thumb = ctx.store.signed_url(asset.key, "thumb.jpg", clock.now().timestamp(), ctx.settings.media_url_ttl_s)
    return AssetOut(
        id=asset.id,
        kind=asset.kind,
        filename=asset.filename,
        width=asset.width,
        height=asset.height,
        duration_s=asset.duration_s,
        thumb_url=thumb,
        created_at=asset.created_at,
    )


@router.get("/api/v1/studio/templates", summary="The spot templates")
def list_templates() -> list[dict[str, object]]:
    return [template.describe() for template in TEMPLATES.values()]


def _upload(request: Request, session: Session, file: UploadFile | None, user: User, limit: int, add: Any) -> AssetOut:
    """An upload into the merchant's studio library through `add(ctx, session, merchant, path, filename)`."""
    ctx = get_context(request)
    ensure_can_sell(user)
    file, filename = chosen_upload(file)
    with saved_upload(ctx, file, limit) as path:
        return asset_out(request, add(ctx, session, user, path, filename))


@router.post("/api/v1/studio/images", status_code=201, response_model=AssetOut, summary="Upload an image")
def upload_image(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    user: User = required_user,
    session: Session = db_session,
) -> AssetOut:
    limit = get_context(request).settings.max_image_bytes
    return _upload(request, session, file, user, limit, assets.add_image)


@router.post("/api/v1/studio/music", status_code=201, response_model=AssetOut, summary="Upload a music track")
def upload_music(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    user: User = required_user,
    session: Session = db_session,
) -> AssetOut:
    limit = get_context(request).settings.max_music_bytes
    return _upload(request, session, file, user, limit, assets.add_music)


@router.get("/api/v1/studio/images", response_model=list[AssetOut], summary="Your uploaded images")
def list_images(request: Request, user: User = required_user, session: Session = db_session) -> list[AssetOut]:
    return [asset_out(request, a) for a in assets.list_assets(session, user, AssetKind.image)]


@router.get("/api/v1/studio/music", response_model=list[AssetOut], summary="Your uploaded music")
def list_music(request: Request, user: User = required_user, session: Session = db_session) -> list[AssetOut]:
    return [asset_out(request, a) for a in assets.list_assets(session, user, AssetKind.music)]


@router.post("/api/v1/studio/previews", response_model=PreviewOut, summary="A quick low-resolution render")
def preview(request: Request, body: SpotIn, user: User = required_user) -> PreviewOut:
    """Rendered while you wait (a few seconds), at low resolution; nothing is published."""
    ctx = get_context(request)
    with ctx.db.session() as session:
        spec = studio.check_request(ctx, session, user, body.to_request())
    key, notes = studio.render_preview(ctx, user, spec)
    plan_frame = studio.plan_spot(spec, ctx.settings.studio_preview_short_side, 15, ctx.settings).frame
    url = ctx.store.signed_url(key, "preview.mp4", clock.now().timestamp(), 3600)
    return PreviewOut(
        url=url,
        width=plan_frame.width,
        height=plan_frame.height,
        duration_s=spec["duration_s"],
        notes=notes,
    )


@router.post(
    "/api/v1/studio/spots",
    status_code=202,
    response_model=SpotAccepted,
    summary="Render and publish a spot",
    responses={202: {"description": "Queued; poll GET /api/v1/studio/spots/{id}."}},
)
def create_spot(request: Request, body: SpotIn, user: User = required_user) -> JSONResponse:
    """Checks everything, then renders in the background; an Idempotency-Key makes a retry safe."""
    ctx = get_context(request)

    def operation(session: Session) -> dict[str, object]:
        spot = studio.create_spot(ctx, session, user, body.to_request())
        return {"id": spot.id, "status": "rendering"}

    response = run_once(request, user, body.model_dump(), operation, status_code=202)
    if response.status_code == 202:
        response.headers["Location"] = f"/api/v1/studio/spots/{json.loads(bytes(response.body))['id']}"
    return response


@router.get("/api/v1/studio/spots/{spot_id}", response_model=SpotOut, summary="A spot's render status")
def read_spot(spot_id: RowId, user: User = required_user, session: Session = db_session) -> SpotOut:
    return spot_out(session, studio.get_spot(session, spot_id, user))


@router.get("/api/v1/studio/spots", response_model=list[SpotOut], summary="Your spots, newest first")
def list_spots(user: User = required_user, session: Session = db_session) -> list[SpotOut]:
    return [spot_out(session, spot) for spot in studio.list_spots(session, user)]
