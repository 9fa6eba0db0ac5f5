"""Live shows: made by a merchant or a partner with a stream key, turned live by a publisher on that key (the
RTMP server asks `authorize_publish` before it accepts a frame), interrupted when the publisher stops, ended for
good by the host. The key is shown once when made or replaced, and kept as a hash like every token."""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.accounts.service import token_hash
from vetrina.catalog.models import Product
from vetrina.commerce.service import LiveSource
from vetrina.context import Context
from vetrina.db import Database
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound
from vetrina.i18n import _, clipped
from vetrina.live import hls
from vetrina.live.models import ConsentStatus, LiveShow, ShowMerchant, ShowStatus
from vetrina.storage import Covers
from vetrina.text import clean_text

MAX_FEATURED = 50
MAX_OPEN_SHOWS = 20  # shows of one host not yet ended: a host cannot fill the database with them
MAX_SHOWS_PER_DAY = 50  # shows one host makes in 24 hours, ended or not
# nginx re-checks a publisher every 5 s (rtmp.UPDATE_EVERY_S) and gives up on a callback after 10 s: a live show
# unchecked for longer than this lost its publisher unannounced, and its key may publish again.
SILENT_AFTER_S = 30
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HOSTS = {Role.merchant.value, Role.partner.value}
STREAM_TIME_MARGIN = timedelta(minutes=2)  # an encoder's dates run a little before the publish callback


class PublishRefused(Forbidden):
    """The RTMP server must drop this publisher (nginx-rtmp can only accept or drop a connection)."""

    slug, title = "publish-refused", _("Publishing refused")


def new_stream_key() -> str:
    return "live_" + secrets.token_urlsafe(24)


def create_show(
    session: Session, host: User, title: str, starts_at: datetime | None, product_ids: Sequence[int]
) -> tuple[LiveShow, str]:
    """A scheduled show of `host`'s (a merchant or a partner) featuring its own products (a partner's: merchants',
    who are asked for consent); returns the show and its stream key, in clear this once."""
    if host.role not in HOSTS:
        raise Forbidden(_("Only merchants and partners host live shows."))
    title = clean_text(title, "title", 200, required=True)
    featured = _featured(session, host, product_ids)
    open_shows, today = session.execute(
        select(
            func.count().filter(LiveShow.status != ShowStatus.ended.value),
            func.count().filter(LiveShow.created_at > clock.now() - timedelta(days=1)),
        ).where(LiveShow.host_id == host.id)
    ).one()
    if open_shows >= MAX_OPEN_SHOWS:
        raise Conflict(_("You have {count} shows not yet ended: end one first.", count=MAX_OPEN_SHOWS))
    if today >= MAX_SHOWS_PER_DAY:
        raise Conflict(_("You made {count} shows in the last 24 hours: try again tomorrow.", count=MAX_SHOWS_PER_DAY))
    try:
        starts_at = starts_at.astimezone(UTC) if starts_at else None
    except OverflowError:
        raise InvalidInput(_("That start time is out of range."), field="starts_at") from None
    key = new_stream_key()
    show = LiveShow(
        host_id=host.id,
        title=title,
        status=ShowStatus.scheduled.value,
        stream_key_hash=token_hash(key),
        product_ids=featured,
        starts_at=starts_at,
        created_at=clock.now(),
    )
    session.add(show)
    session.flush()
    _ask_merchants(session, show)
    return show, key


def _featured(session: Session, host: User, product_ids: Sequence[int]) -> list[int]:
    """The products in the host's order, each once, not deleted: a merchant's own; a partner's may be any
    merchant's published products, pinned once their merchant consents (`ask_merchants`)."""
    wanted = list(dict.fromkeys(product_ids))
    if len(wanted) > MAX_FEATURED:
        raise InvalidInput(_("A show features at most {count} products.", count=MAX_FEATURED), field="product_ids")
    if not wanted:
        return []
    mine = Product.merchant_id == host.id
    offered = mine if host.role != Role.partner.value else mine | Product.published.is_(True)
    found = set(session.scalars(select(Product.id).where(Product.id.in_(wanted), offered, Product.deleted.is_(False))))
    missing = [product_id for product_id in wanted if product_id not in found]
    if missing:
        if host.role != Role.partner.value:
            raise InvalidInput(_("You sell no product {product_id}.", product_id=missing[0]), field="product_ids")
        raise InvalidInput(_("There is no product on sale {product_id}.", product_id=missing[0]), field="product_ids")
    return wanted


def _ask_merchants(session: Session, show: LiveShow) -> None:
    """A partner's show asks each merchant whose products it features for consent (once per merchant)."""
    merchants = set(
        session.scalars(
            select(Product.merchant_id).where(Product.id.in_(show.product_ids), Product.merchant_id != show.host_id)
        )
    )
    for merchant_id in sorted(merchants):
        session.add(ShowMerchant(show_id=show.id, merchant_id=merchant_id, status=ConsentStatus.asked.value))


def decide_consent(session: Session, show_id: int, merchant: User, accept: bool) -> ShowMerchant:
    """The merchant asked by a partner's show accepts its products being pinned and sold there, or declines
    (also later: its products are pinned no more)."""
    asked = session.get(ShowMerchant, (show_id, merchant.id), with_for_update=True)
    if asked is None:  # the same answer for a show that does not exist and one that did not ask this merchant
        raise NotFound(_("No live show {show_id} asks for your products.", show_id=show_id))
    asked.status = (ConsentStatus.accepted if accept else ConsentStatus.declined).value
    asked.decided_at = clock.now()
    return asked


def merchant_products(session: Session, show: LiveShow, merchant_id: int) -> list[int]:
    """The merchant's products the show features, in the host's order."""
    theirs = set(
        session.scalars(select(Product.id).where(Product.id.in_(show.product_ids), Product.merchant_id == merchant_id))
    )
    return [product_id for product_id in show.product_ids if product_id in theirs]


def shows_asking(session: Session, merchant: User) -> list[tuple[LiveShow, ShowMerchant]]:
    """The partners' shows that feature the merchant's products, newest first, with its answer."""
    rows = session.execute(
        select(LiveShow, ShowMerchant)
        .join(ShowMerchant, ShowMerchant.show_id == LiveShow.id)
        .where(ShowMerchant.merchant_id == merchant.id)
        .order_by(LiveShow.id.desc())
        .limit(100)
    ).all()
    return [(show, asked) for show, asked in rows]


def hls_url(ctx: Context, show: LiveShow) -> str | None:
    """The signed URL of the show's HLS (its master playlist, covering its rungs): live while it streams, the replay
    once it ended; None until the encoder has taken its first stream."""
    if show.media_prefix is None:
        return None
    now_ts = clock.now().timestamp()
    return ctx.store.signed_url(show.media_prefix, hls.MASTER, now_ts, ctx.settings.media_url_ttl_s, covers=Covers.hls)


def not_on_air(db: Database, show_ids: Collection[int]) -> set[int]:
    """Which of the shows are no longer on air (ended, or gone)."""
    if not show_ids:
        return set()
    with db.session() as session:
        airing = set(session.scalars(select(LiveShow.id).where(LiveShow.id.in_(show_ids), LiveShow.on_air)))
    return set(show_ids) - airing


def get_show(session: Session, show_id: int) -> LiveShow:
    """Any show: that a show exists, and when, is public (its key never is)."""
    show = session.get(LiveShow, show_id)
    if show is None:
        raise NotFound(_("There is no live show {show_id}.", show_id=show_id))
    return show


def featured_products(session: Session, show: LiveShow) -> list[Product]:
    """The show's products still on sale, in the host's order: the host's own, and other merchants' once they
    consented to a partner's show featuring them."""
    consenting = select(ShowMerchant.merchant_id).where(
        ShowMerchant.show_id == show.id, ShowMerchant.status == ConsentStatus.accepted.value
    )
    found = {
        product.id: product
        for product in session.scalars(
            select(Product).where(
                Product.id.in_(show.product_ids),
                Product.deleted.is_(False),
                (Product.merchant_id == show.host_id)
                | (Product.merchant_id.in_(consenting) & Product.published.is_(True)),
            )
        )
    }
    return [found[product_id] for product_id in show.product_ids if product_id in found]


def list_shows(session: Session, status: ShowStatus | None, limit: int = 100) -> list[LiveShow]:
    """Shows, newest first; with `status`, only those."""
    query = select(LiveShow).order_by(LiveShow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(LiveShow.status == status.value)
    return list(session.scalars(query))


def hosted_show(session: Session, show_id: int, user: User, *, lock: bool = True) -> LiveShow:
    """The show (row-locked unless only read) when `user` hosts it (or is an admin); 403 for anyone else (the show
    is public)."""
    show = session.get(LiveShow, show_id, with_for_update=lock)
    if show is None:
        raise NotFound(_("There is no live show {show_id}.", show_id=show_id))
    if show.host_id != user.id and not user.is_admin:
        raise Forbidden(_("Only the show's host can do this."))
    return show


def replace_stream_key(session: Session, show_id: int, user: User) -> tuple[LiveShow, str]:
    """A new key for the show (the old one is refused from now on, and a publisher on it is dropped at the RTMP
    server's next check); returns it in clear this once."""
    show = hosted_show(session, show_id, user)
    if show.status == ShowStatus.ended:
        raise Conflict(_("This show has ended."), current_status=show.status)
    key = new_stream_key()
    show.stream_key_hash = token_hash(key)
    if show.status == ShowStatus.live:
        _interrupt(show)
    return show, key


def end_show(session: Session, show_id: int, user: User) -> LiveShow:
    """End the show for good: its key is refused, and a publisher on it is dropped at the next check."""
    show = hosted_show(session, show_id, user)
    if show.status != ShowStatus.ended:
        show.status, show.ended_at = ShowStatus.ended.value, clock.now()
        show.publisher_addr = show.publisher_id = None
    return show


@dataclass(frozen=True)
class Publisher:
    """Who the RTMP server asks about: the stream key it publishes to (the stream's name), nginx's id of its
    connection, and its address."""

    key: str
    client_id: str
    addr: str
    call: str = "publish"  # nginx's `call`: publish, update_publish, play, update_play, publish_done
    pull: str = ""  # a player's token (the encoder's)

    @classmethod
    def from_form(cls, fields: Iterable[tuple[str, Any]]) -> Publisher:
        """From nginx-rtmp's callback form. nginx writes its own fields first and then appends the publisher's
        query string unescaped, so a field named twice keeps its first value: a publisher cannot name another key,
        connection or address than nginx's."""
        first: dict[str, str] = {}
        for name, value in fields:
            if isinstance(value, str):
                first.setdefault(name, value)
        key = first.get("name", "")
        if not 0 < len(key) <= 512 or _CONTROL.search(key):
            raise InvalidInput(_("The callback names no stream key."), field="name")
        return cls(
            key,
            _CONTROL.sub("", first.get("clientid", ""))[:32],
            _CONTROL.sub("", first.get("addr", ""))[:64],
            first.get("call", "")[:32],
            first.get("pull", "")[:64],
        )

    @property
    def plays(self) -> bool:
        return self.call in {"play", "update_play"}


def _by_key(session: Session, key: str) -> LiveShow | None:
    return session.scalar(select(LiveShow).where(LiveShow.stream_key_hash == token_hash(key)).with_for_update())


def _gone_silent(show: LiveShow, now: datetime) -> bool:
    """A live show whose RTMP server has not checked it for a while lost its publisher without being told (nginx
    gave up on a callback, or restarted): it no longer holds its key."""
    last = show.checked_at or show.went_live_at
    return last is None or (now - last).total_seconds() > SILENT_AFTER_S


def authorize_publish(session: Session, publisher: Publisher) -> LiveShow:
    """A publisher asks to stream to its key (nginx-rtmp's `on_publish`): the show goes live, or PublishRefused
    for an unknown or replaced key, an ended show, or a key already publishing (one publisher per show)."""
    show = _by_key(session, publisher.key)
    if show is None:
        raise PublishRefused(_("No show has this stream key."))
    if show.status == ShowStatus.ended:
        raise PublishRefused(_("This show has ended."))
    now = clock.now()
    if show.status == ShowStatus.live and not _gone_silent(show, now):
        raise PublishRefused(_("This show's key is already publishing."))
    show.status, show.publisher_addr, show.publisher_id = ShowStatus.live.value, publisher.addr, publisher.client_id
    show.went_live_at = show.went_live_at or now
    show.checked_at, show.interrupted_at, show.stream_problem = now, None, None
    return show


def still_publishing(session: Session, publisher: Publisher) -> LiveShow:
    """The RTMP server's periodic check of a publisher (`on_update`): PublishRefused once its key was replaced, its
    show ended or interrupted, or another connection publishes it, which drops it."""
    show = _by_key(session, publisher.key)
    if show is None or show.status != ShowStatus.live or show.publisher_id != publisher.client_id:
        raise PublishRefused(_("This stream key no longer publishes."))
    show.checked_at = clock.now()
    return show


def publish_done(session: Session, publisher: Publisher) -> LiveShow | None:
    """The publisher stopped (`on_publish_done`): a live show is interrupted, and the same key may resume it. Only
    the connection that publishes it can say so (a refused second publisher's end changes nothing)."""
    show = _by_key(session, publisher.key)
    if show is not None and show.status == ShowStatus.live and show.publisher_id == publisher.client_id:
        _interrupt(show)
    return show


def _interrupt(show: LiveShow) -> None:
    show.status, show.publisher_addr, show.publisher_id = ShowStatus.interrupted.value, None, None
    show.interrupted_at = clock.now()


def interrupt_silent(session: Session) -> list[int]:
    """Interrupt the live shows nginx-rtmp has not checked for SILENT_AFTER_S (it restarted, or its last callback
    was lost): their publisher is gone, and the resume grace starts; returns their ids."""
    cutoff = clock.now() - timedelta(seconds=SILENT_AFTER_S)
    shows = session.scalars(
        select(LiveShow)
        .where(
            LiveShow.status == ShowStatus.live.value,
            func.coalesce(LiveShow.checked_at, LiveShow.went_live_at, LiveShow.created_at) < cutoff,
        )
        .with_for_update()
    ).all()
    for show in shows:
        _interrupt(show)
    return [show.id for show in shows]


def end_unresumed(session: Session, grace_s: float) -> list[int]:
    """End the shows whose publisher has not come back within `grace_s` of stopping; returns their ids."""
    cutoff = clock.now() - timedelta(seconds=grace_s)
    shows = session.scalars(
        select(LiveShow)
        .where(LiveShow.status == ShowStatus.interrupted.value, LiveShow.interrupted_at < cutoff)
        .with_for_update()
    ).all()
    for show in shows:
        show.status, show.ended_at = ShowStatus.ended.value, clock.now()
    return [show.id for show in shows]


def note_stream_problem(session: Session, show_id: int, problem: str) -> None:
    """Why the encoder dropped the show's stream, for its host (the RTMP server reports the drop itself)."""
    show = session.get(LiveShow, show_id, with_for_update=True)
    if show is not None:
        show.stream_problem = clipped(problem, 300)


def order_source(session: Session, show_id: int, stream_time: datetime, product_ids: Iterable[int]) -> LiveSource:
    """Where a live order came from, once it could have: the show went live, features every product ordered, and the
    stream time lies within it (it ranks the show's selling moments). Items held during a show may be bought after
    it ended, with the stream time they were held at."""
    show = session.get(LiveShow, show_id)
    now = clock.now()
    if show is None or show.went_live_at is None:
        raise InvalidInput(_("There is no live show {show_id} to order from.", show_id=show_id), field="live.show_id")
    featured = {product.id for product in featured_products(session, show)}
    if not set(product_ids) <= featured:
        raise InvalidInput(_("The show does not feature every product ordered."), field="items")
    try:
        stream_time = stream_time.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(_("That stream time is out of range."), field="live.stream_time") from None
    last = min(show.ended_at or now, now) + timedelta(seconds=5)
    if not show.went_live_at - STREAM_TIME_MARGIN <= stream_time <= last:
        raise InvalidInput(_("That stream time is not one of the show's."), field="live.stream_time")
    return LiveSource(show.id, stream_time)
