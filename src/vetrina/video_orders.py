"""Orders placed from a video. The source a buyer names counts towards the video's selling seconds and the title's
revenue share, so it is checked first: the buyer may watch the video, and every product ordered is tagged in it or
was shown in it as an overlay ad. Commerce cannot ask this itself (tags and ads sit beside and above it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.accounts.service import FramedSignIn
from vetrina.ads.models import AdDecision, Campaign
from vetrina.catalog.models import Product
from vetrina.commerce import service as orders
from vetrina.commerce.models import Order
from vetrina.context import Context
from vetrina.errors import Forbidden, InvalidInput, NotFound
from vetrina.i18n import _
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
    flash_sale_id: int | None = None,
    live_source: orders.LiveSource | None = None,
) -> Order:
    """`commerce.create_order`, once the source (if any) is one the buyer could have ordered from. `framed`: the
    buyer signed in inside another site's frame of the player, and orders only from the videos there may sell."""
    product_ids = {item.product_id for item in items}
    if framed is not None and source is None:  # a live show is not sold inside another site's frame
        raise Forbidden(_("Inside another site's frame, an order names the video it is bought from."), field="source")
    if source is not None:
        _check_source(session, buyer, source.video_id, product_ids)  # first: unknown and invisible answer alike
    if framed is not None and source is not None:
        _check_framed(session, framed, source.video_id, product_ids)
    return orders.create_order(
        ctx,
        session,
        buyer,
        items,
        territory=territory,
        source=source,
        live_source=live_source,
        flash_sale_id=flash_sale_id,
    )


def _check_framed(session: Session, framed: FramedSignIn, video_id: int, product_ids: set[int]) -> None:
    """A sign-in made in a merchant's allowed site's frame buys from that merchant's videos, its products only
    (any, when the operator allowed the site)."""
    if framed.merchant_id is None:
        return
    owner = session.scalar(select(Video.owner_id).where(Video.id == video_id))
    sellers = set(session.scalars(select(Product.merchant_id).where(Product.id.in_(product_ids))))
    if owner != framed.merchant_id or sellers - {framed.merchant_id}:
        raise Forbidden(
            _("{origin} sells inside its frames only its own merchant's products.", origin=framed.origin),
            field="source",
        )


def check_framed_payment(session: Session, buyer: User, framed: FramedSignIn | None, order_id: int) -> None:
    """Paying from a sign-in made in a merchant's allowed site's frame: only that merchant's orders (another's
    order is left to the payment's own checks, which answer as for an unknown one)."""
    if framed is None or framed.merchant_id is None:
        return
    seller = session.scalar(select(Order.merchant_id).where(Order.id == order_id, Order.buyer_id == buyer.id))
    if seller is not None and seller != framed.merchant_id:
        raise Forbidden(
            _("{origin} takes payment inside its frames only for its own merchant's orders.", origin=framed.origin)
        )


def _check_source(session: Session, buyer: User, video_id: int, product_ids: set[int]) -> None:
    try:
        media.get_video(session, video_id, buyer)
    except NotFound:  # the same answer for a video that exists but is not the buyer's to see
        raise InvalidInput(
            _("There is no video {video_id} to order from.", video_id=video_id), field="source.video_id"
        ) from None
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
            _(
                "Product {product_id} is not shown in video {video_id}: order it without naming that video.",
                product_id=min(unseen),
                video_id=video_id,
            ),
            field="source.video_id",
        )
