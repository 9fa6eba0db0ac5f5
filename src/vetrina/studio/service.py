"""What the rest of Vetrina asks of the studio: check a spot request, preview it, render and publish it.

A spot request is checked completely when it is made (products and media are the merchant's own,
image counts suit the template, every line of copy fits its box in the chosen frame with the
installed fonts), so a queued render fails only for reasons nobody could see coming. The render
job writes the MP4 to scratch space and hands it to the media pipeline in the same transaction
that tags its products: a spot is published whole or not at all.
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huey import crontab
from PIL import Image, ImageOps
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.catalog import channels
from vetrina.catalog import service as catalog
from vetrina.catalog.models import ProductImage
from vetrina.context import Context
from vetrina.errors import Busy, InvalidInput, NotFound, TooManyRequests, VetrinaError
from vetrina.i18n import LANGUAGES, _, current_language
from vetrina.jobs import periodic_job
from vetrina.leases import Lease, leased_job, run_under_lease
from vetrina.media import service as media
from vetrina.media.ffmpeg import FfmpegFailed
from vetrina.media.models import Video, VideoStatus
from vetrina.money import Money
from vetrina.settings import Settings
from vetrina.shoppable import service as shoppable
from vetrina.storage import MediaStore
from vetrina.studio import assets
from vetrina.studio.fonts import available_fonts
from vetrina.studio.layout import Box, TextBlock
from vetrina.studio.models import AssetKind, Spot, SpotStatus
from vetrina.studio.render import Encoding, Sound, render_plan
from vetrina.studio.templates import Brand, Copy, Layer, Plan, frame_for, get_template, logo_box
from vetrina.studio.voice import NO_SPEECH_NOTE, speak, tts_engine
from vetrina.text import clean_text

RENDER_JOB = "studio.render"
MAX_PRODUCTS = 5
MAX_HEADLINE = 120
MAX_LINE = 120
MAX_CTA = 40
MAX_ACTIVE_SPOTS = 3  # per merchant, queued or rendering: one merchant cannot fill everyone's job queue
RENDER_SHARE = 0.85  # of a spot's progress: the render; the rest is the video's transcode
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class SpotRequest:
    template: str
    duration_s: int
    aspect: str
    product_ids: list[int]
    image_ids: list[int] = field(default_factory=list)
    product_image_ids: list[int] = field(default_factory=list)
    headline: str = ""
    lines: list[str] = field(default_factory=list)
    show_price: bool = True
    cta: str | None = None  # None: the template's own call to action, in the spot's language
    music_id: int | None = None
    voiceover: bool = False
    brand_color: str | None = None
    text_color: str | None = None
    logo_id: int | None = None
    title: str | None = None
    language: str | None = None  # of the template's own labels (price, call to action); None: the merchant's


# The call to action a template says when the merchant wrote none, in the spot's language.
DEFAULT_CTA = _("Shop now")


def _colour(value: str, field_name: str) -> list[int]:
    if not _HEX.match(value):
        raise InvalidInput(_("A colour is written #rrggbb."), field=field_name)
    return [int(value[i : i + 2], 16) for i in (1, 3, 5)]


def _images(session: Session, merchant: User, request: SpotRequest, products: list[Any], limit: int) -> list[str]:
    """Storage keys of the images to show, in order: the chosen product photos, then the chosen uploads."""
    keys: list[tuple[int, int, str]] = []  # (width, height, storage key)
    for image_id in request.product_image_ids:
        image = session.get(ProductImage, image_id)
        if image is None or image.product.merchant_id != merchant.id:
            raise InvalidInput(_("You have no product image {image_id}.", image_id=image_id), field="product_image_ids")
        keys.append((image.width, image.height, f"{image.key}/large.jpg"))
    for image_id in request.image_ids:
        asset = assets.get_asset(session, merchant, image_id, AssetKind.image, "image_ids")
        assert asset.width is not None and asset.height is not None  # add_image records every image's size
        keys.append((asset.width, asset.height, assets.image_source(asset)))
    if not keys:
        # The products' own photos: those big enough, as many as the template and duration can show.
        keys = [
            (image.width, image.height, f"{image.key}/large.jpg")
            for product in products
            for image in product.images
            if min(image.width, image.height) >= assets.MIN_IMAGE_SIDE
        ][:limit]
        if not keys:
            raise InvalidInput(
                _(
                    "The products have no photos of at least {side} px: add photos to a product or "
                    "upload images to the studio.",
                    side=assets.MIN_IMAGE_SIDE,
                ),
                field="image_ids",
            )
    for width, height, _key in keys:
        if min(width, height) < assets.MIN_IMAGE_SIDE:
            raise InvalidInput(
                _(
                    "An image is {width}×{height} px; the studio needs at least {side} px on each side.",
                    width=width,
                    height=height,
                    side=assets.MIN_IMAGE_SIDE,
                ),
                field="image_ids",
            )
    return [key for _width, _height, key in keys]


def check_request(ctx: Context, session: Session, merchant: User, request: SpotRequest) -> dict[str, Any]:
    """The request checked against the merchant's things and the template, as the spec a render works from."""
    catalog.ensure_can_sell(merchant)
    template = get_template(request.template)
    if request.duration_s not in template.durations:
        raise InvalidInput(
            _("A spot lasts {durations} seconds.", durations=", ".join(map(str, template.durations))),
            field="duration_s",
        )
    frame_for(request.aspect, ctx.settings.studio_short_side, ctx.settings.studio_fps)
    if not 1 <= len(request.product_ids) <= MAX_PRODUCTS or len(set(request.product_ids)) != len(request.product_ids):
        raise InvalidInput(
            _("A spot advertises 1 to {most} different products.", most=MAX_PRODUCTS), field="product_ids"
        )
    products = [catalog.product_for_change(session, pid, merchant) for pid in request.product_ids]
    images = _images(session, merchant, request, products, template.images_for(request.duration_s))
    if not template.min_images <= len(images) <= template.max_images:
        raise InvalidInput(
            _(
                "The {template} template shows {min_images} to {max_images} images; this spot has {count}.",
                template=template.title,
                min_images=template.min_images,
                max_images=template.max_images,
                count=len(images),
            ),
            field="image_ids",
        )
    if len(request.lines) > template.max_lines:
        raise InvalidInput(_("A spot has at most {count} lines of copy.", count=template.max_lines), field="lines")
    brand_color, text_color = channels.brand_colours(session, merchant.id)
    first = products[0]
    language = request.language or current_language()
    if language not in LANGUAGES:
        raise InvalidInput(
            _("A spot's labels are written in {languages}.", languages=", ".join(sorted(LANGUAGES))), field="language"
        )
    spec: dict[str, Any] = {
        "template": template.name,
        "duration_s": request.duration_s,
        "aspect": request.aspect,
        "product_ids": list(request.product_ids),
        "images": images,
        "headline": clean_text(request.headline, "headline", MAX_HEADLINE, required=False),
        "lines": [clean_text(line, f"lines[{i}]", MAX_LINE, required=True) for i, line in enumerate(request.lines)],
        "language": language,
        "price": Money(first.price_amount, first.currency).display(language) if request.show_price else None,
        "cta": DEFAULT_CTA.localised(language)
        if request.cta is None
        else clean_text(request.cta, "cta", MAX_CTA, required=False),
        "brand": _colour(request.brand_color or brand_color, "brand_color"),
        "text": _colour(request.text_color or text_color, "text_color"),
        "music_key": None,
        "logo_key": None,
        "voiceover": bool(request.voiceover),
        "title": clean_text(
            (request.title or request.headline or f"{first.title}: spot")[: media.MAX_TITLE],
            "title",
            media.MAX_TITLE,
            required=True,
        ),
    }
    if request.music_id is not None:
        spec["music_key"] = assets.get_asset(session, merchant, request.music_id, AssetKind.music, "music_id").key
    if request.logo_id is not None:
        logo = assets.get_asset(session, merchant, request.logo_id, AssetKind.image, "logo_id")
        spec["logo_key"] = assets.logo_source(logo)
    plan_spot(spec, ctx.settings.studio_short_side, ctx.settings.studio_fps, ctx.settings)
    return spec


def notes_for(spec: dict[str, Any]) -> list[str]:
    """What the merchant should know before rendering (fallbacks the render will take)."""
    return [NO_SPEECH_NOTE] if spec["voiceover"] and tts_engine() is None else []


def plan_spot(spec: dict[str, Any], short_side: int, fps: int, settings: Settings) -> Plan:
    """The template's plan for `spec` in a frame of `short_side`; lays out every block of copy."""
    template = get_template(spec["template"])
    copy = Copy(spec["headline"], tuple(spec["lines"]), spec["price"], spec["cta"])
    brand = Brand(tuple(spec["brand"]), tuple(spec["text"]), logo=bool(spec["logo_key"]))
    frame = frame_for(spec["aspect"], short_side, fps)
    fonts = available_fonts(settings.studio_fonts)
    plan = template.plan(frame, spec["duration_s"], len(spec["images"]), copy, brand, fonts)
    plan.logo_box = logo_box(frame) if brand.logo else None
    return plan


def _logo_layer(store: MediaStore, box: Box, key: str, duration_s: int) -> Layer:
    """The logo fitted into its box (kept to the box's top right), the whole spot long."""
    with store.local_copy(key) as path, Image.open(path) as opened:
        logo = ImageOps.contain(opened.convert("RGBA"), (box.w, box.h), Image.Resampling.LANCZOS)
    placed = Box(box.x + box.w - logo.width, box.y, logo.width, logo.height)
    return Layer(TextBlock(image=logo, box=placed, font_px=0, lines=()), 0.0, float(duration_s))


def render_spec(
    spec: dict[str, Any],
    store: MediaStore,
    settings: Settings,
    scratch: Path,
    output: Path,
    *,
    preview: bool,
    on_progress: Any = None,
) -> list[str]:
    """Render `spec` to `output` (a low-resolution quick encode for a preview); returns notes for the merchant."""
    if preview:
        plan = plan_spot(spec, settings.studio_preview_short_side, 15, settings)
        encoding = Encoding(preset="ultrafast", crf=30)
    else:
        plan = plan_spot(spec, settings.studio_short_side, settings.studio_fps, settings)
        encoding = Encoding(preset=settings.x264_preset, crf=settings.studio_crf)
    if plan.logo_box is not None:
        plan.layers.append(_logo_layer(store, plan.logo_box, spec["logo_key"], plan.duration_s))
    notes: list[str] = []
    voice = None
    if spec["voiceover"]:
        script = ". ".join(t for t in (spec["headline"], *spec["lines"], spec["cta"]) if t)
        voice, notes = speak(script, scratch / "voice.wav", plan.duration_s - 0.6)
        if on_progress is not None:
            on_progress(0.0)  # a heartbeat: speech synthesis can take a while
    with ExitStack() as copies:
        try:
            music = copies.enter_context(store.local_copy(spec["music_key"])) if spec["music_key"] else None
            images = [copies.enter_context(store.local_copy(key)) for key in spec["images"]]
        except FileNotFoundError:
            message = _("An image or track of this spot has been removed since it was chosen.")
            raise InvalidInput(message, field="image_ids") from None
        render_plan(plan, images, Sound(music=music, voice=voice), scratch, output, encoding, on_progress)
    return notes


_preview_slots: threading.BoundedSemaphore | None = None
_preview_lock = threading.Lock()


def render_preview(ctx: Context, merchant: User, spec: dict[str, Any]) -> tuple[str, list[str]]:
    """A low-resolution render of `spec` for the studio page; returns its storage key and notes.

    Previews run in the request, `studio_preview_slots` at a time per process; beyond that the caller is
    asked to retry."""
    global _preview_slots
    with _preview_lock:
        if _preview_slots is None:
            _preview_slots = threading.BoundedSemaphore(ctx.settings.studio_preview_slots)
    if not _preview_slots.acquire(blocking=False):
        # Waiting would hold a web worker thread; the page retries instead.
        raise Busy(_("Other previews are rendering; try again in a few seconds."), retry_after_s=3)
    try:
        key = f"studio/{merchant.id}/previews/{secrets.token_hex(8)}"
        scratch = ctx.store.scratch_dir(key.replace("/", "-"))
        result = scratch / "out"
        try:
            result.mkdir()
            notes = render_spec(spec, ctx.store, ctx.settings, scratch, result / "preview.mp4", preview=True)
            ctx.store.publish_dir(result, key)
        except FfmpegFailed as exc:
            raise InvalidInput(_("The preview could not be rendered ({details}).", details=exc.stderr_tail)) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return key, notes
    finally:
        _preview_slots.release()


def create_spot(ctx: Context, session: Session, merchant: User, request: SpotRequest) -> Spot:
    """Check the request and queue its render (once this transaction commits)."""
    active = (
        session.scalar(
            select(func.count())
            .select_from(Spot)
            .where(
                Spot.merchant_id == merchant.id, Spot.status.in_([SpotStatus.queued.value, SpotStatus.rendering.value])
            )
        )
        or 0
    )
    if active >= MAX_ACTIVE_SPOTS:
        raise TooManyRequests(
            _("You have {active} spots rendering; wait for one to finish before starting another.", active=active),
            retry_after_s=15,
        )
    spec = check_request(ctx, session, merchant, request)
    spot = Spot(
        merchant_id=merchant.id,
        spec=spec,
        status=SpotStatus.queued.value,
        progress=0.0,
        notes=notes_for(spec),
        created_at=clock.now(),
    )
    session.add(spot)
    session.flush()
    ctx.queue.enqueue_after_commit(session, RENDER_JOB, spot.id)
    return spot


def get_spot(session: Session, spot_id: int, merchant: User) -> Spot:
    spot = session.get(Spot, spot_id)
    if spot is None or (spot.merchant_id != merchant.id and not merchant.is_admin):
        raise NotFound(_("You have no spot {spot_id}.", spot_id=spot_id))
    return spot


def list_spots(session: Session, merchant: User, limit: int = 50) -> list[Spot]:
    return list(
        session.scalars(select(Spot).where(Spot.merchant_id == merchant.id).order_by(Spot.id.desc()).limit(limit))
    )


@dataclass(frozen=True)
class SpotState:
    status: str  # rendering | ready | failed
    progress: float
    error: str | None


def spot_state(session: Session, spot: Spot) -> SpotState:
    """Where a spot is, from its render and then from its video's transcode."""
    if spot.status == SpotStatus.failed:
        return SpotState("failed", spot.progress, spot.error)
    if spot.status != SpotStatus.published:
        return SpotState("rendering", round(spot.progress * RENDER_SHARE, 4), None)
    video = session.get(Video, spot.video_id) if spot.video_id else None
    if video is None:
        return SpotState("failed", 1.0, _("The spot's video has been deleted."))
    if video.status == VideoStatus.failed:
        return SpotState("failed", RENDER_SHARE, video.error)
    if video.status == VideoStatus.ready:
        return SpotState("ready", 1.0, None)
    return SpotState("rendering", round(RENDER_SHARE + (1 - RENDER_SHARE) * video.progress, 4), None)


def spot_video_ids(session: Session, merchant_id: int) -> set[int]:
    """Which of a merchant's videos are studio spots."""
    rows = session.scalars(select(Spot.video_id).where(Spot.merchant_id == merchant_id, Spot.video_id.is_not(None)))
    return {video_id for video_id in rows if video_id is not None}  # the query leaves None out already


# The render job ---------------------------------------------------------------------------------


@leased_job(RENDER_JOB, Spot)
def render_spot_job(ctx: Context, spot_id: int) -> None:
    """Render a queued spot and publish it as a tagged video on the merchant's channel."""
    run_under_lease(
        ctx,
        Spot,
        spot_id,
        _render,
        explain=_render_failure,
        expected=(VetrinaError, FfmpegFailed),
        scratch=f"spot-{spot_id}",
    )


def _render(lease: Lease) -> None:
    ctx = lease.ctx
    with ctx.db.session() as session:
        spec = dict(lease.get(session, Spot).spec)
    started = time.monotonic()
    output = lease.scratch / "spot.mp4"
    notes = render_spec(
        spec, ctx.store, ctx.settings, lease.scratch, output, preview=False, on_progress=lease.heartbeat
    )
    _publish(lease, spec, output, notes, time.monotonic() - started)


def _render_failure(exc: Exception) -> str:
    if isinstance(exc, VetrinaError):
        return exc.detail
    if isinstance(exc, FfmpegFailed):
        return _("The render failed: {error}", error=str(exc))
    return _("The render failed unexpectedly ({kind}).", kind=exc.__class__.__name__)


def _publish(lease: Lease, spec: dict[str, Any], output: Path, notes: list[str], took_s: float) -> None:
    """Hand the render to the media pipeline and tag its products over its whole length, in one transaction."""
    ctx = lease.ctx
    with ctx.db.session(write=True) as session:
        spot = lease.get(session, Spot)
        merchant = session.get_one(User, spot.merchant_id)  # a foreign key: deleting the merchant deletes the spot
        lease.renew(session)
        video = media.create_video(
            ctx,
            session,
            merchant,
            title=spec["title"],
            description=" · ".join(t for t in (spec["headline"], *spec["lines"]) if t),
            upload=output,
            filename="spot.mp4",
        )
        session.flush()
        for product_id in spec["product_ids"]:
            product = catalog.product_for_change(session, product_id, merchant)
            shoppable.create_tag(
                ctx,
                session,
                video.id,
                merchant,
                shoppable.TagSpec(product_id=product_id, start_s=0.0, end_s=video.duration_s, label=product.title),
            )
        session.refresh(spot)
        spot.video_id, spot.status, spot.progress = video.id, SpotStatus.published.value, 1.0
        spot.notes = list(dict.fromkeys([*spot.notes, *notes]))  # a fallback noted at request time is not repeated
        spot.render_seconds, spot.lease_token = round(took_s, 3), None


@periodic_job("studio.clean_previews", crontab(minute="*/10"))
def clean_previews(ctx: Context) -> None:
    """Previews are for the moment of making a spot: remove those older than an hour."""
    cutoff = time.time() - 3600  # noqa: TID251  (compared with the store's file times, which are wall-clock)
    old = set()
    for found in ctx.store.list("studio"):
        parts = found.key.split("/")  # studio/{merchant}/previews/{preview}/preview.mp4
        if len(parts) > 4 and parts[2] == "previews" and found.modified_ts < cutoff:
            old.add("/".join(parts[:4]))
    for key in old:
        ctx.store.delete(key)
