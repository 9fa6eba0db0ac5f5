"""A feed item's MRSS `media:restriction` as its title's licence (the rights domain keeps the licences)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.geo import TERRITORIES
from vetrina.media import service as media
from vetrina.partners.models import FeedItem
from vetrina.rights import service as rights

FOREVER = datetime(9999, 1, 1, tzinfo=UTC)  # a feed's restriction has no end date


def apply_restriction(ctx: Context, session: Session, owner: User, video_id: int, item: FeedItem) -> None:
    """The item's restriction as a licence of the title to its partner: allowed countries, or every country but
    the denied ones ("all" or no restriction: not rights-managed; allowed nowhere: the title is withdrawn)."""
    restriction = (item.details or {}).get("restriction")
    if not restriction:
        return
    relationship, countries = restriction["relationship"], restriction["countries"]
    if countries in ("all", "none"):
        if (relationship == "allow") == (countries == "all"):  # allow all, deny none: not restricted
            return
        allowed: list[str] = []
    else:
        allowed = list(countries) if relationship == "allow" else sorted(TERRITORIES - set(countries))
    if not allowed:
        media.set_published(ctx, session, [video_id], False)
        return
    rights.create_licence(
        ctx,
        session,
        owner,
        video_id,
        distributor=owner.email,
        territories=allowed,
        starts_at=clock.now(),
        ends_at=FOREVER,
        uses=["stream", "ads", "commerce"],
        from_feed=True,
    )


def replace_restriction(ctx: Context, session: Session, owner: User, video_id: int, item: FeedItem) -> None:
    """The licences from the item's earlier restriction give way to its new one. Conflict when the new one
    clashes with a licence made by hand."""
    rights.delete_feed_licences(ctx, session, video_id)
    apply_restriction(ctx, session, owner, video_id, item)
