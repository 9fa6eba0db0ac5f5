"""Orders placed from a video. The source a buyer names counts towards the video's selling seconds and the title's
revenue share, so it is checked first: the buyer may watch the video, and every product ordered is tagged in it or
was shown in it as an overlay ad. Commerce cannot ask this itself (tags and ads sit beside and above it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.accounts.service import FramedSignIn
from vetrina.ads.models import AdDecision, Campaign
from vetrina.commerce import service as orders
from vetrina.commerce.models import Order
from vetrina.context import Context
from vetrina.errors import Forbidden, InvalidInput, NotFound
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.shoppable.models import ProductTag


def place_order(
    ctx: Context,
    session: Session,
    buyer: User,
    items: list[orders.ItemSpec],
    *,
    territory: str,
    source: orders.OrderSource | None,
    framed: FramedSignIn | None = None,
) -> Order:
    """`commerce.create_order`, once the source (if any) is one the buyer could have ordered from. `framed`: the
    buyer signed in inside another site's frame of the player, and orders only from the videos there may sell."""
    if framed is not None:
        _check_framed(session, framed, source)
    if source is not None:
        _check_source(session, buyer, source.video_id, {item.product_id for item in items})
    return orders.create_order(ctx, session, buyer, items, territory=territory, source=source)


def _check_framed(session: Session, framed: FramedSignIn, source: orders.OrderSource | None) -> None:
    """A sign-in made in a frame buys from the player there: an order names its video, which must be one of the
    merchant that allowed the site (any video, when the operator did)."""
    if source is None:
        raise Forbidden("Inside another site's frame, an order names the video it is bought from.", field="source")
    if framed.merchant_id is not None:
        owner = session.scalar(select(Video.owner_id).where(Video.id == source.video_id))
        if owner != framed.merchant_id:
            raise Forbidden(
                f"{framed.origin} may sell inside its frames only from its merchant's videos.", field="source.video_id"
            )


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
