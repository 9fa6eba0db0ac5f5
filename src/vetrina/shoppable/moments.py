"""A video's product moments as HLS date ranges: each tag becomes an `EXT-X-DATERANGE` of class
`dev.vetrina.product` over the tag's span, with the product's id, title, price, card image and the link to buy it
as `X-` attributes. Any HLS player (hls.js, Shaka Player, AVPlayer) then hands its page the product on screen as
timed metadata at the right second, without Vetrina's timeline API or its player."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vetrina.catalog import service as catalog
from vetrina.catalog.models import Product
from vetrina.context import Context
from vetrina.media.models import Video
from vetrina.media.playlists import DateRange
from vetrina.money import Money
from vetrina.shoppable.models import ProductTag
from vetrina.storage import absolute_url

PRODUCT_CLASS = "dev.vetrina.product"


def date_ranges(ctx: Context, session: Session, video: Video, base_url: str) -> list[DateRange]:
    """One date range per tag of a product still for sale, clipped to the video's length (as the timeline does).
    Whoever holds the playlist's signed URL may already watch the video, so nothing here is checked again."""
    ranges = []
    for tag, product in tagged_products(session, video):
        price = Money(product.price_amount, product.currency)
        attributes: list[tuple[str, str | float]] = [
            ("CLASS", PRODUCT_CLASS),
            ("DURATION", round(max(min(tag.end_s, video.duration_s) - tag.start_s, 0.0), 3)),
            ("X-PRODUCT-ID", str(product.id)),
            ("X-TITLE", product.title),
            ("X-PRICE", price.decimal_string()),
            ("X-CURRENCY", price.currency),
            ("X-BUY-URL", f"{base_url}/p/{product.id}?{_from_video(video.id, tag.start_s)}"),
        ]
        if tag.label:
            attributes.append(("X-LABEL", tag.label))
        if product.images:
            image = catalog.image_urls(ctx, product.images[0])["card"]
            attributes.append(("X-IMAGE-URL", absolute_url(base_url, image)))
        ranges.append(DateRange(f"product-{tag.id}", tag.start_s, tuple(attributes)))
    return ranges


def tagged_products(session: Session, video: Video) -> list[tuple[ProductTag, Product]]:
    """The video's tags of products still for sale, in time order, each with its product (images and variants
    loaded): what the public timeline, the playlists and search engines are told of."""
    rows = session.execute(
        select(ProductTag, Product)
        .join(Product, Product.id == ProductTag.product_id)
        .where(
            ProductTag.video_id == video.id,
            ProductTag.start_s < video.duration_s,
            Product.deleted.is_(False),
            Product.published.is_(True),
        )
        .order_by(ProductTag.start_s, ProductTag.id)
        .options(selectinload(Product.images), selectinload(Product.variants))
    )
    return [(tag, product) for tag, product in rows]


def _from_video(video_id: int, start_s: float) -> str:
    return f"video={video_id}&t={start_s:g}"
