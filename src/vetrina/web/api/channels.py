"""/api/v1/channels/{handle} and the channel page /c/{handle}: a merchant's videos and products."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.catalog import channels, embedding
from vetrina.catalog import service as catalog
from vetrina.catalog.models import Channel
from vetrina.media import service as media
from vetrina.money import Money
from vetrina.rights import service as rights
from vetrina.studio.service import spot_video_ids
from vetrina.web.api.products import ProductOut, product_out
from vetrina.web.api.videos import VideoOut, VideoPage, video_out
from vetrina.web.browser_safety import allow_reading_from_any_site
from vetrina.web.deps import (
    CSRF_FIELD,
    db_session,
    get_context,
    optional_user,
    require_csrf_form,
    required_user,
    territory,
    viewer_territory,
    write_session,
)
from vetrina.web.templating import render
from vetrina.web.uploads import saved_upload

router = APIRouter(tags=["channels"])
Handle = str


class ChannelChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=5000)
    brand_color: str | None = Field(None, max_length=7, description="#rrggbb: panels of spots, the page's accent")
    text_color: str | None = Field(None, max_length=7, description="#rrggbb: copy on the brand colour")
    auto_tag: bool | None = Field(None, description="Recognise your products in each of your videos")
    embed_origins: list[Annotated[str, Field(max_length=300)]] | None = Field(
        None,
        max_length=embedding.MAX_ORIGINS,
        description="Sites whose pages may frame your player with buying inside it, e.g. https://shop.example",
    )


class ChannelOut(BaseModel):
    handle: str
    name: str
    description: str
    merchant_id: int
    brand_color: str
    text_color: str
    auto_tag: bool
    embed_origins: list[str] | None = Field(
        description="Sites that may sell inside frames of your player (shown to the channel's merchant only)."
    )
    banner_url: str | None
    followers: int
    following: bool
    videos: list[VideoOut]
    spots: list[VideoOut] = Field(description="The merchant's studio spots (also among `videos`).")
    products: list[ProductOut]


def channel_out(request: Request, session: Session, channel: Channel, viewer: User | None) -> ChannelOut:
    ctx = get_context(request)
    where = viewer_territory(request)
    listed = media.list_videos(
        session, 1, 48, published_by=channel.merchant_id, shown_if=rights.listable(where, clock.now())
    )
    videos = [video_out(v, ctx, territory=where) for v in listed.items]
    products = catalog.list_products(session, 1, 48, merchant_id=channel.merchant_id).items
    spot_ids = spot_video_ids(session, channel.merchant_id)
    return ChannelOut(
        handle=channel.handle,
        name=channel.name,
        description=channel.description,
        merchant_id=channel.merchant_id,
        brand_color=channel.brand_color,
        text_color=channel.text_color,
        auto_tag=channel.auto_tag,
        embed_origins=channel.embed_origins if viewer is not None and viewer.id == channel.merchant_id else None,
        banner_url=channels.banner_url(ctx, channel),
        followers=channels.followers(session, channel),
        following=channels.is_following(session, channel, viewer),
        videos=videos,
        spots=[v for v in videos if v.id in spot_ids],
        products=[product_out(p, ctx) for p in products],
    )


@router.get("/api/v1/channels/{handle}", response_model=ChannelOut, summary="A merchant's channel")
def read_channel(
    request: Request, handle: Handle, user: User | None = optional_user, session: Session = db_session
) -> ChannelOut:
    return channel_out(request, session, channels.get_channel(session, handle[:64]), user)


@router.get(
    "/api/v1/channels/{handle}/videos",
    response_model=VideoPage,
    summary="A channel's videos listed where the viewer is, newest first; any site's script may read it",
)
def channel_videos(
    request: Request,
    handle: Handle,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 24,
    _any_site: None = Depends(allow_reading_from_any_site),
    session: Session = db_session,
    viewer_territory: str = territory,
) -> VideoPage:
    """The shoppable widget's list (docs/widget.md): no sign-in is read, so every site's page gets the same answer."""
    listed = channels.listed_videos(session, handle[:64], page, per_page, viewer_territory)
    ctx = get_context(request)
    items = [video_out(v, ctx, territory=viewer_territory) for v in listed.items]
    return VideoPage(items=items, total=listed.total, page=page, per_page=per_page)


@router.patch("/api/v1/channels/{handle}", response_model=ChannelOut, summary="Change your channel")
def change_channel(
    request: Request, handle: Handle, body: ChannelChanges, user: User = required_user, session: Session = db_session
) -> ChannelOut:
    channel = channels.update_channel(session, handle[:64], user, body.model_dump(exclude_none=True))
    return channel_out(request, session, channel, user)


@router.post("/api/v1/channels/{handle}/banner", response_model=ChannelOut, summary="Upload your channel's banner")
def upload_banner(
    request: Request,
    handle: Handle,
    file: Annotated[UploadFile | None, File()] = None,
    user: User = required_user,
    session: Session = db_session,
) -> ChannelOut:
    ctx = get_context(request)
    with saved_upload(ctx, file, ctx.settings.max_image_bytes) as path:
        channel = channels.set_banner(ctx, session, handle[:64], user, path)
    return channel_out(request, session, channel, user)


@router.get("/api/v1/me/channel", response_model=ChannelOut, summary="Your own channel (made on first use)")
def my_channel(request: Request, user: User = required_user, session: Session = write_session) -> ChannelOut:
    return channel_out(request, session, channels.channel_of(session, user), user)


@router.post("/api/v1/channels/{handle}/follow", status_code=204, summary="Follow a channel")
def follow(handle: Handle, user: User = required_user, session: Session = db_session) -> Response:
    channels.follow(session, handle[:64], user)
    return Response(status_code=204)


@router.delete("/api/v1/channels/{handle}/follow", status_code=204, summary="Stop following a channel")
def unfollow(handle: Handle, user: User = required_user, session: Session = db_session) -> Response:
    channels.unfollow(session, handle[:64], user)
    return Response(status_code=204)


@router.get("/c/{handle}", response_class=HTMLResponse, include_in_schema=False)
def channel_page(
    request: Request, handle: Handle, user: User | None = optional_user, session: Session = db_session
) -> Response:
    channel = channel_out(request, session, channels.get_channel(session, handle[:64]), user)
    return render(request, "channel.html", user=user, channel=channel, Money=Money)


@router.post("/c/{handle}/follow", include_in_schema=False)
def follow_form(
    request: Request,
    handle: Handle,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    user: User | None = optional_user,
    session: Session = db_session,
) -> Response:
    """The channel page's Follow / Following button."""
    require_csrf_form(request, csrf_token)
    channel = channels.get_channel(session, handle[:64])
    if user is None:
        return RedirectResponse(f"/login?next=/c/{channel.handle}", status_code=303)
    if channels.is_following(session, channel, user):
        channels.unfollow(session, channel.handle, user)
    else:
        channels.follow(session, channel.handle, user)
    return RedirectResponse(f"/c/{channel.handle}", status_code=303)
