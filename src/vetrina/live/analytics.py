"""What a show's host sees of it: viewers at once, chat lines, pins and sales minute by minute over the show, its
highlights, and once it ended the selling-seconds view of its replay (the same rollups as any video's).

Viewers are sampled by every web process as it tells its viewers the count (`record_viewers`), kept as each
minute's peak; the rest is counted from the show's own rows when asked."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.analytics.rollups import selling_seconds
from vetrina.commerce.models import Order, OrderItem
from vetrina.db import Database, dialect_insert, utc_minute
from vetrina.live.highlights import highlights, show_orders
from vetrina.live.models import ChatMessage, LivePin, LiveShow, ViewerMinute
from vetrina.live.service import hosted_show

MAX_MINUTES = 24 * 60  # the longest show a report covers minute by minute (its last day)


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def record_viewers(db: Database, counts: dict[int, int]) -> None:
    """Keep each show's count of viewers now as its minute's peak, if the highest yet (every process writes the same
    sum, so the order they write in does not matter)."""
    if not counts:
        return
    minute = minute_of(clock.now())
    with db.session(write=True) as session:
        existing = set(session.scalars(select(LiveShow.id).where(LiveShow.id.in_(counts))))
        # In show order: two processes writing the same rows lock them in the same order.
        rows = [{"show_id": s, "minute": minute, "peak": n} for s, n in sorted(counts.items()) if s in existing]
        if not rows:
            return
        table = ViewerMinute.__table__
        adding = dialect_insert(session)(table)
        higher = case((adding.excluded.peak > table.c.peak, adding.excluded.peak), else_=table.c.peak)
        session.execute(adding.on_conflict_do_update(index_elements=["show_id", "minute"], set_={"peak": higher}), rows)


def _per_minute(session: Session, column: Any, *where: Any) -> dict[str, int]:
    minute = utc_minute(column, session.get_bind().dialect.name)
    return {m: n for m, n in session.execute(select(minute, func.count()).where(*where).group_by(minute))}


def show_report(session: Session, show_id: int, user: User) -> dict[str, Any]:
    """The show's analytics, for its host (or an admin)."""
    show = hosted_show(session, show_id, user, lock=False)
    dialect = session.get_bind().dialect.name
    seen_chat = [ChatMessage.show_id == show.id, ChatMessage.deleted.is_(False), ChatMessage.hidden.is_(False)]
    chat = _per_minute(session, ChatMessage.stream_time, *seen_chat)
    pins = _per_minute(session, LivePin.pinned_at, LivePin.show_id == show.id)
    viewers = {
        minute_of(at).strftime("%Y-%m-%dT%H:%M"): peak
        for at, peak in session.execute(
            select(ViewerMinute.minute, ViewerMinute.peak).where(ViewerMinute.show_id == show.id)
        )
    }
    bought_at = func.coalesce(Order.source_stream_time, Order.created_at)
    minute = utc_minute(bought_at, dialect)
    orders: defaultdict[str, int] = defaultdict(int)
    units: defaultdict[str, int] = defaultdict(int)
    revenue: defaultdict[str, int] = defaultdict(int)
    paid = [show_orders(show.id)]
    for m, n, amount, currency in session.execute(
        select(minute, func.count(), func.sum(Order.total_amount - Order.refunded_amount), Order.currency)
        .where(*paid)
        .group_by(minute, Order.currency)
    ):
        orders[m] += n
        revenue[currency] += int(amount)
    for m, n in session.execute(
        select(minute, func.sum(OrderItem.quantity))
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(*paid)
        .group_by(minute)
    ):
        units[m] += int(n)
    minutes = []
    if show.went_live_at is not None:
        last = minute_of(show.ended_at or clock.now())
        # From the first minute anything happened in: a stream time may lie a little before the publish callback.
        keys = [*viewers, *chat, *pins, *orders]
        first = min([minute_of(show.went_live_at), *(datetime.fromisoformat(k).replace(tzinfo=UTC) for k in keys)])
        at = max(first, last - timedelta(minutes=MAX_MINUTES - 1))
        while at <= last:
            key = at.strftime("%Y-%m-%dT%H:%M")
            minutes.append(
                {
                    "minute": at.isoformat(),
                    "viewers": viewers.get(key, 0),
                    "chat": chat.get(key, 0),
                    "pins": pins.get(key, 0),
                    "orders": orders.get(key, 0),
                    "units": units.get(key, 0),
                }
            )
            at += timedelta(minutes=1)
    replay = None
    if show.replay_video_id is not None:
        replay = selling_seconds(session, show.replay_video_id, user)
    return {
        "show_id": show.id,
        "title": show.title,
        "status": show.status,
        "peak_viewers": max(viewers.values(), default=0),
        "chat_messages": sum(chat.values()),
        "pins": sum(pins.values()),
        "orders": sum(orders.values()),
        "units": sum(units.values()),
        "revenue": [{"amount": amount, "currency": currency} for currency, amount in sorted(revenue.items())],
        "minutes": minutes,
        "highlights": highlights(session, show.id),
        "replay": replay,
    }
