"""The merchant's studio library: uploaded images (checked and resized) and music tracks (checked to be sound)."""

from __future__ import annotations

import secrets
import shutil
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.catalog.images import render_sizes
from vetrina.catalog.service import ensure_can_sell
from vetrina.context import Context
from vetrina.db import on_rollback
from vetrina.errors import NotFound
from vetrina.i18n import _
from vetrina.media.probe import probe_audio
from vetrina.studio.models import AssetKind, StudioAsset
from vetrina.text import clean_text

# A photo must be big enough to fill a good part of a 1080p frame; it is kept up to 2560 px. Uploads as
# small as a logo are kept too (with their transparency, as logo.png); spots check photos' size themselves.
STUDIO_IMAGE_SIZES = {"thumb": 160, "source": 2560}
MIN_IMAGE_SIDE = 320
MIN_LOGO_SIDE = 48
LOGO_SIDE = 512
MAX_MUSIC_S = 15 * 60
_MUSIC_SUFFIXES = {".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp4"}


def add_image(ctx: Context, session: Session, merchant: User, upload: Path, filename: str) -> StudioAsset:
    """Check an uploaded image and keep it (with a thumbnail) in the merchant's library."""
    ensure_can_sell(merchant)
    key = f"studio/{merchant.id}/images/{secrets.token_hex(8)}"
    scratch = ctx.store.scratch_dir(key.replace("/", "-"))
    try:
        width, height = render_sizes(upload, scratch, STUDIO_IMAGE_SIZES, MIN_LOGO_SIDE)
        _keep_as_logo(upload, scratch / "logo.png")
        ctx.store.publish_dir(scratch, key)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already when published
    on_rollback(session, lambda: ctx.store.delete(key))
    return _record(session, merchant, AssetKind.image, key, filename, width=width, height=height)


def _keep_as_logo(upload: Path, target: Path) -> None:
    """The image with its transparency, at most LOGO_SIDE px (JPEG sizes would lose the alpha)."""
    with Image.open(upload) as opened:
        logo = ImageOps.exif_transpose(opened).convert("RGBA")
    logo.thumbnail((LOGO_SIDE, LOGO_SIDE), Image.Resampling.LANCZOS)
    logo.save(target, "PNG", optimize=True)


def add_music(ctx: Context, session: Session, merchant: User, upload: Path, filename: str) -> StudioAsset:
    """Check that an upload is a sound track and keep it in the merchant's library."""
    ensure_can_sell(merchant)
    duration_s = probe_audio(upload, MAX_MUSIC_S)
    suffix = Path(filename).suffix.lower()
    key = f"studio/{merchant.id}/music/{secrets.token_hex(8)}/track{suffix if suffix in _MUSIC_SUFFIXES else ''}"
    ctx.store.put_file(upload, key)
    on_rollback(session, lambda: ctx.store.delete(key.rsplit("/", 1)[0]))
    return _record(session, merchant, AssetKind.music, key, filename, duration_s=round(duration_s, 3))


def _record(session: Session, merchant: User, kind: AssetKind, key: str, filename: str, **facts: float) -> StudioAsset:
    name = clean_text(Path(filename or kind.value).name, "filename", 200, required=False) or kind.value
    asset = StudioAsset(
        merchant_id=merchant.id, kind=kind.value, key=key, filename=name, created_at=clock.now(), **facts
    )
    session.add(asset)
    session.flush()
    return asset


def list_assets(session: Session, merchant: User, kind: AssetKind) -> list[StudioAsset]:
    return list(
        session.scalars(
            select(StudioAsset)
            .where(StudioAsset.merchant_id == merchant.id, StudioAsset.kind == kind.value)
            .order_by(StudioAsset.id.desc())
            .limit(200)
        )
    )


def get_asset(session: Session, merchant: User, asset_id: int, kind: AssetKind, field: str) -> StudioAsset:
    """One of the merchant's own assets; another merchant's id is as unknown as a missing one."""
    asset = session.get(StudioAsset, asset_id)
    if asset is None or asset.merchant_id != merchant.id or asset.kind != kind.value:
        if kind == AssetKind.music:
            raise NotFound(_("You have no studio music {asset_id}.", asset_id=asset_id), field=field)
        raise NotFound(_("You have no studio image {asset_id}.", asset_id=asset_id), field=field)
    return asset


def image_source(asset: StudioAsset) -> str:
    return f"{asset.key}/source.jpg"


def logo_source(asset: StudioAsset) -> str:
    return f"{asset.key}/logo.png"


def assets_added_since(session: Session, merchant_id: int, since: datetime) -> tuple[int, datetime | None]:
    """How many images and tracks `merchant_id` has uploaded to its library since `since`, and when the oldest of
    them was (for the upload quotas)."""
    query = select(func.count(), func.min(StudioAsset.created_at)).where(
        StudioAsset.merchant_id == merchant_id, StudioAsset.created_at >= since
    )
    count, oldest = session.execute(query).one()
    return count, oldest
