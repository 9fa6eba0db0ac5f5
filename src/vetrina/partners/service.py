"""What the rest of Vetrina asks of the partners domain about feeds: register one, find and list them, and
page through a feed's items. Imports are `partners.runs`, media fetching `partners.media_fetch`, the
schedule `partners.schedule`, the readers `partners.feeds`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina import clock, netguard
from vetrina.accounts.models import Role, User
from vetrina.errors import Forbidden, InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.partners.models import FeedItem, PartnerFeed
from vetrina.text import clean_text


def create_feed(
    session: Session,
    user: User,
    *,
    name: str,
    source: str,
    fmt: str = "auto",
    rerun_hours: float | None = None,
    local_ok: bool = False,
    allow_private: bool = False,
) -> PartnerFeed:
    """A feed for `user`. Over the API `source` is an http(s) URL to a public address; from the command line
    (`local_ok`) it may be a file on this machine."""
    if user.role not in (Role.partner, Role.merchant, Role.admin):
        raise Forbidden(_("Only partner, merchant and admin accounts import feeds."))
    name = clean_text(name, "name", 200, required=True)
    if fmt not in ("auto", "mrss", "csv"):
        raise InvalidInput(_("The format is auto, mrss or csv."), field="format")
    if rerun_hours is not None and not 1 <= rerun_hours <= 24 * 90:
        raise InvalidInput(_("Re-runs are 1 hour to 90 days apart."), field="rerun_hours")
    if not (local_ok and Path(source).is_file()):
        netguard.check_outgoing_url(source, allow_private)
    existing = session.scalar(
        select(PartnerFeed).where(PartnerFeed.partner_id == user.id, PartnerFeed.source == source)
    )
    if existing is not None:
        return existing
    now = clock.now()
    feed = PartnerFeed(
        partner_id=user.id,
        name=name,
        source=source,
        format=fmt,
        rerun_hours=rerun_hours,
        created_at=now,
        next_run_at=now + timedelta(hours=rerun_hours) if rerun_hours else None,
    )
    session.add(feed)
    session.flush()
    return feed


def get_feed(session: Session, feed_id: int, user: User) -> PartnerFeed:
    feed = session.get(PartnerFeed, feed_id)
    if feed is None or not (feed.partner_id == user.id or user.role == Role.admin):
        raise NotFound(_("There is no feed {feed_id}.", feed_id=feed_id))
    return feed


def list_feeds(session: Session, user: User) -> list[PartnerFeed]:
    query = select(PartnerFeed).order_by(PartnerFeed.id)
    if user.role != Role.admin:
        query = query.where(PartnerFeed.partner_id == user.id)
    return list(session.scalars(query))


def items(session: Session, feed: PartnerFeed, page: int, per_page: int) -> tuple[list[FeedItem], int]:
    total = session.scalar(select(func.count()).select_from(FeedItem).where(FeedItem.feed_id == feed.id)) or 0
    rows = session.scalars(
        select(FeedItem)
        .where(FeedItem.feed_id == feed.id)
        .order_by(FeedItem.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), total
