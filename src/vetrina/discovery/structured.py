"""schema.org structured data (JSON-LD) for search engines: a video as a VideoObject whose key moments are Clips
(one per tagged product moment), each featured product as a Product with its Offer, and a live show as a
VideoObject published by a BroadcastEvent.

Media URLs are signed and expire, so a video points at its embed player (`embedUrl`) and its stable poster
address, never at a media file. Product images are signed links, as on the product page.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.catalog import service as catalog
from vetrina.catalog.models import Product
from vetrina.context import Context
from vetrina.discovery import links
from vetrina.discovery.restriction import streaming_restriction
from vetrina.live import service as live
from vetrina.live.models import LiveShow, ShowStatus
from vetrina.media.models import Video, VideoStatus
from vetrina.money import Money
from vetrina.rights.service import RightsCache
from vetrina.shoppable.models import ProductTag
from vetrina.shoppable.moments import tagged_products
from vetrina.storage import absolute_url

SCHEMA = "https://schema.org"
# Key moments beyond this many are left out: a page stays small, and search engines show a handful.
MAX_CLIPS = 100


def script_json(data: dict[str, Any]) -> str:
    """`data` as the text of a <script type="application/ld+json">: with "<" escaped, no title can close the
    script element ("</script>") or open a comment in it."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration in whole seconds (at least one): 90.4 -> PT1M30S."""
    total = max(1, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")  # stored times are aware UTC: "+00:00"


def product_object(ctx: Context, product: Product, base_url: str) -> dict[str, Any]:
    """A Product with its Offer (price, currency, availability), as search engines' merchant listings ask."""
    price = Money(product.price_amount, product.currency)
    in_stock = catalog.available_stock(product) > 0
    data: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "Product",
        "name": product.title,
        "description": product.description or product.title,
        "sku": str(product.id),
        "url": links.product_url(base_url, product.id),
        "image": [absolute_url(base_url, catalog.image_urls(ctx, image)["large"]) for image in product.images],
        "offers": {
            "@type": "Offer",
            "price": price.decimal_string(),
            "priceCurrency": price.currency,
            "availability": SCHEMA + ("/InStock" if in_stock else "/OutOfStock"),
            "url": links.product_url(base_url, product.id),
        },
    }
    return data


def _clip(video: Video, tag: ProductTag, product: Product, base_url: str) -> dict[str, Any]:
    start = math.floor(tag.start_s)
    end = max(start + 1, math.ceil(min(tag.end_s, video.duration_s)))
    return {
        "@type": "Clip",
        "name": tag.label or product.title,
        "startOffset": start,
        "endOffset": end,
        "url": links.watch_url(base_url, video.id, start),
    }


def video_objects(ctx: Context, session: Session, video: Video, base_url: str) -> list[dict[str, Any]]:
    """The watch page's structured data: its VideoObject (Clips for its product moments), then a Product for
    each product it features; nothing for a video that is not ready to play."""
    if video.status != VideoStatus.ready:
        return []
    moments = tagged_products(session, video)
    data: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "VideoObject",
        "@id": links.watch_url(base_url, video.id),
        "name": video.title,
        "description": video.description or video.title,
        "thumbnailUrl": [links.poster_url(base_url, video.id)],
        "uploadDate": _iso(video.ready_at or video.created_at),
        "duration": iso_duration(video.duration_s),
        "embedUrl": links.embed_url(base_url, video.id),
        "url": links.watch_url(base_url, video.id),
        "width": video.width,
        "height": video.height,
    }
    if moments:
        data["hasPart"] = [_clip(video, tag, product, base_url) for tag, product in moments[:MAX_CLIPS]]
    restriction = streaming_restriction(ctx.caches.get(RightsCache).terms(session, video.id), clock.now())
    if restriction is not None and restriction.relationship == "allow":
        data["regionsAllowed"] = list(restriction.territories)
    featured = {product.id: product for _tag, product in moments}
    return [data, *(product_object(ctx, product, base_url) for product in featured.values())]


def live_show_objects(ctx: Context, session: Session, show: LiveShow, base_url: str) -> list[dict[str, Any]]:
    """The live page's structured data: a VideoObject published by a BroadcastEvent (`isLiveBroadcast`, its start,
    and its end once ended), then a Product for each product the show features."""
    products = live.featured_products(session, show)
    replay = session.get(Video, show.replay_video_id) if show.replay_video_id else None
    public_replay = replay is not None and replay.published and replay.status == VideoStatus.ready
    started = show.went_live_at or show.starts_at or show.created_at
    broadcast: dict[str, Any] = {"@type": "BroadcastEvent", "isLiveBroadcast": True, "startDate": _iso(started)}
    if show.status == ShowStatus.ended and show.ended_at is not None:
        broadcast["endDate"] = _iso(show.ended_at)
    data: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "VideoObject",
        "@id": links.live_url(base_url, show.id),
        "name": show.title,
        "description": f"{show.title}: a live shopping show on Vetrina.",
        "thumbnailUrl": [_show_thumbnail(ctx, replay if public_replay else None, products, base_url)],
        "uploadDate": _iso(started),
        "url": links.live_url(base_url, show.id),
        "publication": broadcast,
    }
    if replay is not None and public_replay:
        data["embedUrl"] = links.embed_url(base_url, replay.id)
        data["duration"] = iso_duration(replay.duration_s)
    return [data, *(product_object(ctx, product, base_url) for product in products)]


def _show_thumbnail(ctx: Context, replay: Video | None, products: list[Product], base_url: str) -> str:
    """The replay's poster; before there is one, the first featured product's photo; else the site's icon."""
    if replay is not None:
        return links.poster_url(base_url, replay.id)
    for product in products:
        if product.images:
            return absolute_url(base_url, catalog.image_urls(ctx, product.images[0])["large"])
    return base_url + "/static/favicon.svg"
