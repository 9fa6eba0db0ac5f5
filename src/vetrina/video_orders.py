"""Orders placed from a video. The source a buyer names counts towards the video's selling seconds and the title's
revenue share, so it is checked first: the buyer may watch the video, and every product ordered is tagged in it or
was shown in it as an overlay ad. Commerce cannot ask this itself (tags and ads sit beside and above it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.ads.models import AdDecision, Campaign
from vetrina.commerce import service as orders
from vetrina.commerce.models import Order
from vetrina.context import Context
from vetrina.errors import InvalidInput, NotFound
from vetrina.media import service as media
from vetrina.shoppable.models import ProductTag


def place_order(
    ctx: Context,
    session: Session,
    buyer: User,
    items: list[orders.ItemSpec],
    *,
    territory: str,
    source: orders.OrderSource | None,
) -> Order:
    """`commerce.create_order`, once the source (if any) is one the buyer could have ordered from."""
    if source is not None:
        _check_source(session, buyer, source.video_id, {item.product_id for item in items})
    return orders.create_order(ctx, session, buyer, items, territory=territory, source=source)


def _check_source(session: Session, buyer: User, video_id: int, product_ids: set[int]) -> None:
    try:
        media.get_video(session, video_id, buyer)
    except NotFound:  # the same answer for a video that exists but is not the buyer's to see
        raise InvalidInput(f"There is no video {video_id} to order from.", field="source.video_id") from None
    tagged = set(
        session.scalars(
            select(ProductTag.product_id).where(ProductTag.video_id == video_id, ProductTag.product_id.in_(product_ids))
        )
    )
    advertised = set(
        session.scalars(
            select(Campaign.product_id)
            .join(AdDecision, AdDecision.campaign_id == Campaign.id)
            .where(AdDecision.video_id == video_id, Campaign.product_id.in_(product_ids - tagged))
            .distinct()
        )
    )
    unseen = product_ids - tagged - advertised
    if unseen:
        raise InvalidInput(
            f"Product {min(unseen)} is not shown in video {video_id}: order it without naming that video.",
            field="source.video_id",
        )
