"""Merchants' channels: every merchant has one (made on first use), with a handle, a name and followers."""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.catalog.embedding import check_origins
from vetrina.catalog.images import render_sizes
from vetrina.catalog.models import Channel, ChannelFollow
from vetrina.context import Context
from vetrina.db import after_commit, on_rollback
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.media import service as media
from vetrina.rights import service as rights
from vetrina.text import clean_text

_HANDLE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_HANDLES = frozenset({"admin", "api", "new", "settings", "vetrina", "www"})
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
BANNER_SIZES = {"banner": 1600}


def check_handle(handle: str) -> str:
    handle = handle.strip().lower()
    if not _HANDLE.match(handle) or "--" in handle or handle in RESERVED_HANDLES:
        raise InvalidInput(_("A handle is 3 to 40 letters, digits and single hyphens."), field="handle")
    return handle


def _default_handle(merchant: User) -> str:
    """The handle a merchant's channel is first given: from its email address and id."""
    base = re.sub(r"[^a-z0-9]+", "-", merchant.email.split("@")[0].lower()).strip("-")[:30].strip("-")
    return f"{base}-{merchant.id}" if len(base) >= 2 else f"shop-{merchant.id}"


def _spare_handle(default: str) -> str:
    """`default` with a random suffix, for when another merchant has renamed its channel to `default`."""
    suffix = secrets.token_hex(4)
    return f"{default[: 39 - len(suffix)].rstrip('-')}-{suffix}"


def channel_of(session: Session, merchant: User) -> Channel:
    """The merchant's channel, made on first use with its default handle, or a spare one when that is taken."""
    if merchant.role not in (Role.merchant, Role.admin):
        raise Forbidden(_("Only merchants have channels."))
    channel = session.scalar(select(Channel).where(Channel.merchant_id == merchant.id))
    if channel is not None:
        return channel
    default = _default_handle(merchant)
    for handle in (default, _spare_handle(default), _spare_handle(default)):
        channel = Channel(
            merchant_id=merchant.id,
            handle=handle,
            name=merchant.email.split("@")[0][:100],
            description="",
            created_at=clock.now(),
        )
        try:
            with session.begin_nested():
                session.add(channel)
        except IntegrityError:
            made = session.scalar(select(Channel).where(Channel.merchant_id == merchant.id))
            if made is not None:
                return made  # made meanwhile by another request
            continue  # another channel holds this handle
        return channel
    raise Conflict(_("No free handle was found for your channel; try again."))


def brand_colours(session: Session, merchant_id: int) -> tuple[str, str]:
    """The merchant's brand and text colours; the defaults while it has no channel yet (nothing is written)."""
    row = session.execute(
        select(Channel.brand_color, Channel.text_color).where(Channel.merchant_id == merchant_id)
    ).first()
    if row is None:
        return Channel.brand_color.default.arg, Channel.text_color.default.arg
    return row.brand_color, row.text_color


def get_channel(session: Session, handle: str) -> Channel:
    # PostgreSQL refuses a NUL in text outright: such a handle names no channel, so it is not asked.
    channel = (
        None if "\x00" in handle else session.scalar(select(Channel).where(Channel.handle == handle.strip().lower()))
    )
    if channel is None:
        raise NotFound(_("There is no channel @{handle}.", handle=handle))
    return channel


def listed_videos(session: Session, handle: str, page: int, per_page: int, territory: str) -> media.Page:
    """The channel's published, ready videos that may be listed in `territory` now, newest first (the shoppable
    widget on a merchant's own site). An unknown handle is a NotFound."""
    channel = get_channel(session, handle)
    return media.list_videos(
        session, page, per_page, published_by=channel.merchant_id, shown_if=rights.listable(territory, clock.now())
    )


def _channel_for_change(session: Session, handle: str, user: User) -> Channel:
    channel = get_channel(session, handle)
    if channel.merchant_id != user.id and not user.is_admin:
        raise Forbidden(_("Only the channel's merchant can change it."))
    return channel


def update_channel(session: Session, handle: str, user: User, changes: Mapping[str, Any]) -> Channel:
    channel = _channel_for_change(session, handle, user)
    if "handle" in changes:
        new_handle = check_handle(changes["handle"])
        taken = session.scalar(select(Channel.id).where(Channel.handle == new_handle, Channel.id != channel.id))
        if taken:
            raise Conflict(_("@{handle} is taken.", handle=new_handle), field="handle")
        try:
            with session.begin_nested():
                channel.handle = new_handle
        except IntegrityError:
            raise Conflict(_("@{handle} is taken.", handle=new_handle), field="handle") from None  # taken meanwhile
    if "name" in changes:
        channel.name = clean_text(changes["name"], "name", 100, required=True, label=_("name"))
    if "description" in changes:
        channel.description = clean_text(
            changes["description"], "description", 5000, required=False, label=_("description")
        )
    if "auto_tag" in changes:
        channel.auto_tag = bool(changes["auto_tag"])
    if "embed_origins" in changes:
        channel.embed_origins = check_origins(changes["embed_origins"])
    for colour in ("brand_color", "text_color"):
        if colour in changes:
            if not _COLOUR.match(changes[colour]):
                raise InvalidInput(_("A colour is written #rrggbb."), field=colour)
            setattr(channel, colour, changes[colour].lower())
    session.flush()
    return channel


def set_banner(ctx: Context, session: Session, handle: str, user: User, upload: Path) -> Channel:
    """Check an uploaded banner image and show it on the channel page (the old one goes after commit)."""
    channel = _channel_for_change(session, handle, user)
    key = f"channels/{channel.id}/banner-{secrets.token_hex(6)}"
    scratch = ctx.store.scratch_dir(key.replace("/", "-"))
    try:
        render_sizes(upload, scratch, BANNER_SIZES, min_side=100)
        ctx.store.publish_dir(scratch, key)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already when published
    on_rollback(session, lambda: ctx.store.delete(key))
    if channel.banner_key:
        old = channel.banner_key
        after_commit(session, lambda: ctx.store.delete(old))
    channel.banner_key = key
    return channel


def banner_url(ctx: Context, channel: Channel) -> str | None:
    if not channel.banner_key:
        return None
    return ctx.store.signed_url(channel.banner_key, "banner.jpg", clock.now().timestamp(), ctx.settings.media_url_ttl_s)


def follow(session: Session, handle: str, user: User) -> None:
    channel = get_channel(session, handle)
    if session.scalar(
        select(ChannelFollow.id).where(ChannelFollow.channel_id == channel.id, ChannelFollow.user_id == user.id)
    ):
        return  # following twice is following
    try:
        with session.begin_nested():
            session.add(ChannelFollow(channel_id=channel.id, user_id=user.id, created_at=clock.now()))
    except IntegrityError:
        return


def unfollow(session: Session, handle: str, user: User) -> None:
    channel = get_channel(session, handle)
    session.execute(
        delete(ChannelFollow).where(ChannelFollow.channel_id == channel.id, ChannelFollow.user_id == user.id)
    )


def followers(session: Session, channel: Channel) -> int:
    return (
        session.scalar(select(func.count()).select_from(ChannelFollow).where(ChannelFollow.channel_id == channel.id))
        or 0
    )


def is_following(session: Session, channel: Channel, user: User | None) -> bool:
    if user is None:
        return False
    found = session.scalar(
        select(ChannelFollow.id).where(ChannelFollow.channel_id == channel.id, ChannelFollow.user_id == user.id)
    )
    return found is not None


def check_can_change(session: Session, handle: str, user: User) -> None:
    """404 or 403 unless `user` may change the channel `handle` (asked before its banner upload is read)."""
    _channel_for_change(session, handle, user)
