"""Dashboards: each role's question answered from the stores, for a date range.

- merchant: revenue and orders per day, the funnel from card shown to confirmed receipt, top products and
  videos by sales, refunds;
- video owner: plays and watch time per day, top videos by viewers (each linking to its selling seconds);
- operator: platform totals, escrow held, commission and advertising earned, the job queue.
Player events are read from their rollups (`rollups.py`, up to a minute behind), never scanned raw.
Each table is a list of dicts with the same keys, so it downloads as CSV unchanged.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.analytics.models import DailyStats, DailyViewer
from vetrina.analytics.rollups import on_days
from vetrina.catalog.models import Product
from vetrina.commerce.models import Order, OrderItem, OrderStatus
from vetrina.context import Context
from vetrina.db import utc_day
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.media.models import Video
from vetrina.payments import ledger

MAX_DAYS = 366
PAID = (
    OrderStatus.WAIT_SELLER_SEND_GOODS.value,
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS.value,
    OrderStatus.TRADE_FINISHED.value,
)


@dataclass
class Dashboard:
    """Numbers at a glance (`totals`), series per day for charts, and tables (each downloadable)."""

    start: date
    end: date
    totals: dict[str, Any] = field(default_factory=dict)
    series: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> [{day, value...}]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    end = end or today
    if end >= date.max:  # a dashboard reads up to the start of the day after the last
        raise InvalidInput(_("The period ends after the calendar does."), field="end")
    start = start or clock.days_before(end, 29)
    if end < start:
        raise InvalidInput(_("The period ends after it starts."), field="end")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(_("A dashboard covers at most {days} days.", days=MAX_DAYS), field="start")
    return start, end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


def _days(start: date, end: date, values: dict[str, dict[str, Any]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """One entry per day of the range, zeros where nothing happened."""
    out = []
    for offset in range((end - start).days + 1):
        day = (start + timedelta(days=offset)).isoformat()
        out.append({"day": day, **{name: values.get(day, {}).get(name, 0) for name in names}})
    return out


def merchant(session: Session, user: User, start: date, end: date) -> Dashboard:
    since, until = _bounds(start, end)
    dialect = session.get_bind().dialect.name
    board = Dashboard(start, end)
    day = utc_day(Order.created_at, dialect)
    mine = [Order.merchant_id == user.id, Order.created_at >= since, Order.created_at < until]
    by_day: dict[str, dict[str, Any]] = {}
    for d, orders, revenue in session.execute(
        select(day, func.count(), func.sum(Order.total_amount - Order.refunded_amount))
        .where(*mine, Order.status.in_(PAID))
        .group_by(day)
    ):
        by_day[str(d)[:10]] = {"orders": orders, "revenue": int(revenue or 0)}
    board.series["sales"] = _days(start, end, by_day, ("orders", "revenue"))
    products = select(Product.id).where(Product.merchant_id == user.id)
    events = dict(
        session.execute(
            select(DailyStats.type, func.sum(DailyStats.events))
            .where(
                DailyStats.product_id.in_(products),
                *on_days(DailyStats.day, start, end),
                DailyStats.type.in_(["card_shown", "card_clicked", "buy_started"]),
            )
            .group_by(DailyStats.type)
        ).all()
    )
    paid = session.scalar(select(func.count()).where(*mine, Order.status.in_(PAID))) or 0
    confirmed = session.scalar(select(func.count()).where(*mine, Order.status == OrderStatus.TRADE_FINISHED.value)) or 0
    board.tables["funnel"] = [
        {"step": "card shown", "count": events.get("card_shown", 0)},
        {"step": "card clicked", "count": events.get("card_clicked", 0)},
        {"step": "buy started", "count": events.get("buy_started", 0)},
        {"step": "paid", "count": paid},
        {"step": "confirmed", "count": confirmed},
    ]
    board.tables["top_products"] = [
        {"product_id": pid, "title": title, "units": int(units), "sales": int(sales)}
        for pid, title, units, sales in session.execute(
            select(
                OrderItem.product_id,
                OrderItem.title,
                func.sum(OrderItem.quantity),
                func.sum(OrderItem.quantity * OrderItem.unit_amount),
            )
            .join(Order, Order.id == OrderItem.order_id)
            .where(*mine, Order.status.in_(PAID))
            .group_by(OrderItem.product_id, OrderItem.title)
            .order_by(func.sum(OrderItem.quantity * OrderItem.unit_amount).desc())
            .limit(10)
        )
    ]
    board.tables["top_videos"] = [
        {"video_id": vid, "title": title or "", "orders": orders, "sales": int(sales)}
        for vid, title, orders, sales in session.execute(
            select(
                Order.source_video_id, Video.title, func.count(), func.sum(Order.total_amount - Order.refunded_amount)
            )
            .outerjoin(Video, Video.id == Order.source_video_id)
            .where(*mine, Order.status.in_(PAID), Order.source_video_id.is_not(None))
            .group_by(Order.source_video_id, Video.title)
            .order_by(func.sum(Order.total_amount - Order.refunded_amount).desc())
            .limit(10)
        )
    ]
    refunds = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.refunded_amount), 0)).where(*mine, Order.refunded_amount > 0)
    ).one()
    board.totals = {
        "revenue": sum(d["revenue"] for d in board.series["sales"]),
        "orders": sum(d["orders"] for d in board.series["sales"]),
        "refunded_orders": refunds[0],
        "refunded": int(refunds[1]),
        "conversion": round(paid / events["card_shown"], 4) if events.get("card_shown") else None,
    }
    return board


def owner(session: Session, user: User, start: date, end: date) -> Dashboard:
    board = Dashboard(start, end)
    mine = select(Video.id).where(Video.owner_id == user.id)
    by_day: dict[str, dict[str, Any]] = {}
    for d, plays in session.execute(
        select(DailyStats.day, func.sum(DailyStats.events))
        .where(DailyStats.video_id.in_(mine), *on_days(DailyStats.day, start, end), DailyStats.type == "play")
        .group_by(DailyStats.day)
    ):
        by_day.setdefault(d, {})["plays"] = int(plays)
    # Watch time: how far each viewer got into each video that day (from whichever territory).
    reached = (
        select(
            DailyViewer.day,
            DailyViewer.video_id,
            DailyViewer.viewer_key,
            func.max(DailyViewer.furthest_s).label("furthest"),
        )
        .where(DailyViewer.video_id.in_(mine), *on_days(DailyViewer.day, start, end))
        .group_by(DailyViewer.day, DailyViewer.video_id, DailyViewer.viewer_key)
        .subquery()
    )
    for d, viewers, seconds in session.execute(
        select(reached.c.day, func.count(), func.sum(reached.c.furthest)).group_by(reached.c.day)
    ):
        by_day.setdefault(d, {}).update(viewers=viewers, watch_minutes=round(float(seconds or 0) / 60, 1))
    board.series["audience"] = _days(start, end, by_day, ("plays", "viewers", "watch_minutes"))
    plays_by_video = dict(
        session.execute(
            select(DailyStats.video_id, func.sum(DailyStats.events))
            .where(DailyStats.video_id.in_(mine), *on_days(DailyStats.day, start, end), DailyStats.type == "play")
            .group_by(DailyStats.video_id)
        ).all()
    )
    board.tables["top_videos"] = [
        {"video_id": vid, "title": title, "plays": int(plays_by_video.get(vid, 0)), "viewers": viewers}
        for vid, title, viewers in session.execute(
            select(DailyViewer.video_id, Video.title, func.count(distinct(DailyViewer.viewer_key)))
            .join(Video, Video.id == DailyViewer.video_id)
            .where(DailyViewer.video_id.in_(mine), *on_days(DailyViewer.day, start, end))
            .group_by(DailyViewer.video_id, Video.title)
            .order_by(func.count(distinct(DailyViewer.viewer_key)).desc(), DailyViewer.video_id)
            .limit(10)
        )
    ]
    board.totals = {
        name: round(sum(d[name] for d in board.series["audience"]), 1) for name in ("plays", "viewers", "watch_minutes")
    }
    return board


def operator(ctx: Context, session: Session, start: date, end: date) -> Dashboard:
    since, until = _bounds(start, end)
    dialect = session.get_bind().dialect.name
    board = Dashboard(start, end)
    day = utc_day(Order.created_at, dialect)
    in_range = [Order.created_at >= since, Order.created_at < until, Order.status.in_(PAID)]
    by_day = {
        str(d)[:10]: {"orders": n, "gmv": int(v or 0)}
        for d, n, v in session.execute(
            select(day, func.count(), func.sum(Order.total_amount)).where(*in_range).group_by(day)
        )
    }
    board.series["gmv"] = _days(start, end, by_day, ("orders", "gmv"))
    money = ledger.platform_totals(session)
    board.tables["money"] = [
        {"what": what, "currency": currency, "amount": amount}
        for what, by_currency in money.items()
        for currency, amount in sorted(by_currency.items())
    ]
    board.tables["jobs"] = [
        {"job": name, "runs": runs, "failed": failed} for name, (runs, failed) in sorted(ctx.queue.outcomes.items())
    ]
    board.totals = {
        "users": session.scalar(select(func.count()).select_from(User)) or 0,
        "videos": session.scalar(select(func.count()).select_from(Video)) or 0,
        "orders": sum(d["orders"] for d in board.series["gmv"]),
        "gmv": sum(d["gmv"] for d in board.series["gmv"]),
        "queue_depth": ctx.queue.pending_count(),
    }
    return board


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()
