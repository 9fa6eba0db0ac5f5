"""Product tags: who may tag what, where a tag sits in time and frame; and the playback timeline."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.catalog import service as catalog
from vetrina.catalog.models import Product
from vetrina.catalog.translations import in_language
from vetrina.context import Context, Topic
from vetrina.errors import Forbidden, InvalidInput, NotFound
from vetrina.i18n import _, current_language
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.money import Money
from vetrina.settings import Settings
from vetrina.shoppable.models import ProductTag
from vetrina.text import clean_text

MAX_TAGS_PER_VIDEO = 1000
MAX_KEYFRAMES = 500


@dataclass(frozen=True)
class TagSpec:
    product_id: int
    start_s: float
    end_s: float
    box: dict[str, float] | None = None
    keyframes: tuple[dict[str, float], ...] = ()
    label: str = ""


def _check_box(box: dict[str, float], field: str) -> dict[str, float]:
    x, y, w, h = (float(box[k]) for k in ("x", "y", "w", "h"))
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1 and x + w <= 1.0001 and y + h <= 1.0001):
        raise InvalidInput(_("A box is x, y, w, h as fractions of the frame, inside it."), field=field)
    return {"x": round(x, 5), "y": round(y, 5), "w": round(w, 5), "h": round(h, 5)}


def _check_span(spec: TagSpec, video: Video) -> None:
    if not 0 <= spec.start_s < spec.end_s:
        raise InvalidInput(_("A tag starts at 0 s or later and ends after it starts."), field="start_s")
    if spec.start_s >= video.duration_s:
        raise InvalidInput(
            _("The video is {duration_s:.1f} s long; the tag starts after it ends.", duration_s=video.duration_s),
            field="start_s",
        )


def _check_keyframes(spec: TagSpec) -> list[dict[str, float]]:
    if len(spec.keyframes) > MAX_KEYFRAMES:
        raise InvalidInput(_("A tag has at most {count} keyframes.", count=MAX_KEYFRAMES), field="keyframes")
    frames = []
    for frame in spec.keyframes:
        t = float(frame["t"])
        if not spec.start_s <= t <= spec.end_s:
            raise InvalidInput(_("Keyframes lie within the tag's span."), field="keyframes")
        frames.append({"t": round(t, 3), **_check_box(frame, "keyframes")})
    return sorted(frames, key=lambda f: f["t"])


def _may_tag(user: User, video: Video, product: Product) -> bool:
    if user.role == Role.admin or user.id == video.owner_id:
        return True
    return video.allow_merchant_tags and product.merchant_id == user.id


def _tag_source(session: Session, video_id: int, user: User, product_id: int) -> tuple[Video, Product]:
    video = media.get_video(session, video_id, user)
    product = catalog.get_product(session, product_id, user)
    if not _may_tag(user, video, product):
        raise Forbidden(
            _("Only the video's owner tags it; other merchants may tag their own products where the owner allows it.")
        )
    return video, product


def create_tag(ctx: Context, session: Session, video_id: int, user: User, spec: TagSpec) -> ProductTag:
    video, product = _tag_source(session, video_id, user, spec.product_id)
    _check_span(spec, video)
    count = len(session.scalars(select(ProductTag.id).where(ProductTag.video_id == video.id)).all())
    if count >= MAX_TAGS_PER_VIDEO:
        raise InvalidInput(_("A video has at most {count} tags.", count=MAX_TAGS_PER_VIDEO))
    now = clock.now()
    tag = ProductTag(
        video_id=video.id,
        product_id=product.id,
        start_s=round(spec.start_s, 3),
        end_s=round(spec.end_s, 3),
        box=_check_box(spec.box, "box") if spec.box else None,
        keyframes=_check_keyframes(spec),
        label=clean_text(spec.label, "label", 100, required=False),
        created_by=user.id,
        created_at=now,
        updated_at=now,
    )
    session.add(tag)
    session.flush()
    ctx.caches.forget_after_commit(session, Topic.tags, video.id)
    return tag


def _tag(session: Session, video_id: int, tag_id: int, viewer: User | None) -> tuple[Video, ProductTag]:
    video = media.get_video(session, video_id, viewer)
    tag = session.get(ProductTag, tag_id)
    if tag is None or tag.video_id != video.id:
        raise NotFound(_("Video {video_id} has no tag {tag_id}.", video_id=video_id, tag_id=tag_id))
    return video, tag


def _tag_for_change(session: Session, video_id: int, tag_id: int, user: User) -> tuple[Video, ProductTag]:
    video, tag = _tag(session, video_id, tag_id, user)
    if user.role == Role.admin or user.id == video.owner_id:
        return video, tag
    # Another merchant's own tag: only while the owner still lets merchants tag this video.
    if user.id != tag.created_by or not video.allow_merchant_tags:
        raise Forbidden(
            _("Only the tag's author (while the owner allows it), the video's owner or an admin can change it.")
        )
    return video, tag


def get_tag(session: Session, video_id: int, tag_id: int, viewer: User | None) -> ProductTag:
    return _tag(session, video_id, tag_id, viewer)[1]


def update_tag(
    ctx: Context, session: Session, video_id: int, tag_id: int, user: User, changes: dict[str, Any]
) -> ProductTag:
    video, tag = _tag_for_change(session, video_id, tag_id, user)
    spec = TagSpec(
        product_id=changes.get("product_id", tag.product_id),
        start_s=changes.get("start_s", tag.start_s),
        end_s=changes.get("end_s", tag.end_s),
        box=changes.get("box", tag.box),
        keyframes=tuple(changes.get("keyframes", tag.keyframes)),
        label=changes.get("label", tag.label),
    )
    if spec.product_id != tag.product_id:
        _tag_source(session, video_id, user, spec.product_id)
    _check_span(spec, video)
    tag.product_id, tag.start_s, tag.end_s = spec.product_id, round(spec.start_s, 3), round(spec.end_s, 3)
    tag.box = _check_box(spec.box, "box") if spec.box else None
    tag.keyframes = _check_keyframes(spec)
    tag.label = clean_text(spec.label, "label", 100, required=False)
    tag.updated_at = clock.now()
    session.flush()
    ctx.caches.forget_after_commit(session, Topic.tags, video.id)
    return tag


def delete_tag(ctx: Context, session: Session, video_id: int, tag_id: int, user: User) -> None:
    video, tag = _tag_for_change(session, video_id, tag_id, user)
    session.delete(tag)
    ctx.caches.forget_after_commit(session, Topic.tags, video.id)


def list_tags(session: Session, video_id: int, viewer: User | None) -> list[ProductTag]:
    video = media.get_video(session, video_id, viewer)
    return list(
        session.scalars(
            select(ProductTag).where(ProductTag.video_id == video.id).order_by(ProductTag.start_s, ProductTag.id)
        )
    )


def product_card(ctx: Context, product: Product) -> dict[str, Any]:
    """What a card over the picture shows of a product (the timeline's cards, and overlay ads), in the request's
    language (its title as the merchant translated it, its price as that language writes money)."""
    stock = catalog.available_stock(product)
    image = catalog.image_urls(ctx, product.images[0])["card"] if product.images else None
    variants = [{"id": v.id, "name": v.name, "stock": v.stock} for v in product.variants if v.active]
    return {
        "id": product.id,
        "title": in_language(product)[0],
        # Every translated title too: a live pin's card is made once and read in each viewer's language.
        "titles": {tag: texts["title"] for tag, texts in (product.translations or {}).items() if texts.get("title")},
        "merchant_id": product.merchant_id,
        "price": Money(product.price_amount, product.currency).as_json(),
        "price_display": Money(product.price_amount, product.currency).display(),
        "image": image,
        "in_stock": stock > 0,
        "stock": stock,
        "variants": variants,
    }


def timeline(ctx: Context, session: Session, video_id: int, viewer: User | None) -> dict[str, Any]:
    """Everything the player needs for one play: the tags in time order, each with its product's card.

    Tags past the video's end are clipped (or dropped when they start after it); tags of deleted or
    unpublished products are dropped; an out-of-stock product carries the merchant's closest-priced
    in-stock product as an alternative."""
    video = media.get_video(session, video_id, viewer)
    tags = [t for t in list_tags(session, video.id, viewer) if t.start_s < video.duration_s]
    product_ids = {t.product_id for t in tags}
    products = {
        p.id: p
        for p in session.scalars(
            select(Product)
            .where(Product.id.in_(product_ids), Product.deleted.is_(False), Product.published.is_(True))
            .options(selectinload(Product.variants), selectinload(Product.images))
        )
    }
    cards = {pid: product_card(ctx, p) for pid, p in products.items()}
    sold_out_merchants = {p.merchant_id for pid, p in products.items() if not cards[pid]["in_stock"]}
    alternatives: dict[int, list[Product]] = {}
    if sold_out_merchants:
        for candidate in session.scalars(
            select(Product)
            .where(Product.merchant_id.in_(sold_out_merchants), Product.deleted.is_(False), Product.published.is_(True))
            .options(selectinload(Product.variants), selectinload(Product.images))
        ):
            if catalog.available_stock(candidate) > 0:
                alternatives.setdefault(candidate.merchant_id, []).append(candidate)
    items = []
    for tag in tags:
        product = products.get(tag.product_id)
        if product is None:
            continue
        card = dict(cards[product.id])
        if not card["in_stock"]:
            options = [p for p in alternatives.get(product.merchant_id, []) if p.id != product.id]
            best = min(options, key=lambda p: (abs(p.price_amount - product.price_amount), p.id), default=None)
            card["alternative"] = product_card(ctx, best) if best else None
        items.append(
            {
                "id": tag.id,
                "start_s": tag.start_s,
                "end_s": min(tag.end_s, video.duration_s),
                "box": tag.box,
                "keyframes": tag.keyframes,
                "label": tag.label,
                "product": card,
            }
        )
    return {"video_id": video.id, "duration_s": round(video.duration_s, 3), "tags": items, "ads": []}


def timeline_etag(body: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f'"{digest[:32]}"'


@dataclass(frozen=True)
class RenderedTimeline:
    body: bytes
    etag: str
    public: bool = True


class TimelineCache:
    """Rendered timelines of public videos, fresh for `ttl_s` seconds: the timeline is read on every play.

    Only videos everyone may see are cached, so one entry serves every viewer of a language (the cards' titles
    and prices are written in it: entries are per video and language); within the TTL a
    change (a new tag, a sale that empties stock) may be that many seconds late, as the HTTP
    `max-age` already allows. When an entry goes stale one request rebuilds it while the others keep
    serving the stale copy (no stampede of identical rebuilds)."""

    topics: ClassVar[frozenset[Topic]] = frozenset({Topic.video, Topic.tags})

    @classmethod
    def from_settings(cls, settings: Settings) -> TimelineCache:
        return cls(ttl_s=settings.timeline_cache_s)

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[tuple[int, str], tuple[float, RenderedTimeline]] = {}
        self._rebuilding: dict[tuple[int, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def fresh(self, video_id: int, language: str) -> RenderedTimeline | None:
        """The cached timeline while it is fresh; None otherwise (nothing is built)."""
        entry = self._entries.get((video_id, language))
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def get_or_build(
        self, video_id: int, language: str, build: Callable[[], tuple[RenderedTimeline, bool]]
    ) -> RenderedTimeline:
        """The cached timeline, or `build()`'s (which also says whether it may be cached)."""
        key = (video_id, language)
        entry = self._entries.get(key)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        with self._lock:
            rebuild = self._rebuilding.setdefault(key, threading.Lock())
        if entry and not rebuild.acquire(blocking=False):
            return entry[1]  # someone is refreshing it: the stale copy will do meanwhile
        if not entry:
            rebuild.acquire()
            entry = self._entries.get(key)
            if entry and entry[0] > time.monotonic():
                rebuild.release()
                return entry[1]
        try:
            rendered, cacheable = build()
        except BaseException:
            self.forget(video_id)  # e.g. the video went private: its old copy must not be served
            raise
        else:
            if cacheable:
                self._put(key, rendered)
            else:
                self.forget(video_id)
            return rendered
        finally:
            rebuild.release()
            with self._lock:
                self._rebuilding.pop(key, None)

    def _put(self, key: tuple[int, str], rendered: RenderedTimeline) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                while len(self._entries) >= self.max_entries:  # still full: drop the oldest
                    self._entries.pop(min(self._entries, key=lambda k: self._entries[k][0]))
            self._entries[key] = (time.monotonic() + self.ttl_s, rendered)

    def forget(self, video_id: int | None) -> None:
        """Drop a video's timelines in every language (None: every video's)."""
        with self._lock:
            if video_id is None:
                self._entries = {}
            else:
                self._entries = {key: entry for key, entry in self._entries.items() if key[0] != video_id}


def rendered_timeline(ctx: Context, session: Session, video_id: int, viewer: User | None) -> RenderedTimeline:
    """The timeline as JSON bytes with its ETag, from the cache when the video is public.

    Only public videos' timelines are cached, so a cached copy may be shown to anyone; a video made
    private drops its copy at once in this process (after commit) and within `ttl_s` elsewhere, since
    every rebuild checks access again and a failed one drops the copy."""

    def build() -> tuple[RenderedTimeline, bool]:
        body = timeline(ctx, session, video_id, viewer)
        rendered = RenderedTimeline(
            body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(), etag=timeline_etag(body)
        )
        video = session.get(Video, video_id)
        public = video is not None and video.published and video.status == "ready"
        return RenderedTimeline(rendered.body, rendered.etag, public), public

    return ctx.caches.get(TimelineCache).get_or_build(video_id, current_language(), build)
