"""Revenue share: per title, distributor and period, what a licensed title earned where its licence ran, and
the licensor's share of it under the licence's terms.

Everything is counted where the viewer or buyer was (the territory recorded with each event, ad and order)
and credited to the licence that covered that territory on that day (at noon UTC):
- views: `play` events; watch time: for each viewer and day, the furthest second reached in the title;
- ad revenue: what campaigns were charged for ads in the title (impressions and clicks);
- sales: orders placed from the title and paid, less refunds;
- share: the licence's `share_bps` of ad revenue plus sales, rounded by money's one rule (`Money.share_bps`),
  so it can be recomputed from the figures shown.
Ad revenue is summed in millis and rounded to the minor unit once per row. Money in other currencies than the
deployment's is left out (and counted in `other_currency_items`).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.ads.models import AdDecision, AdEvent, Campaign
from vetrina.analytics.models import DailyStats, DailyViewer
from vetrina.analytics.rollups import on_days
from vetrina.commerce.models import Order, OrderStatus
from vetrina.db import utc_day
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.media.models import Video
from vetrina.money import MilliMoney, Money
from vetrina.rights.models import Licence
from vetrina.rights.service import Terms, covering

MAX_DAYS = 731
DEFAULT_DAYS = 365  # before the first of the end's month, when no start is given
PAID = (
    OrderStatus.WAIT_SELLER_SEND_GOODS.value,
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS.value,
    OrderStatus.TRADE_FINISHED.value,
)


@dataclass(frozen=True)
class RevenueRow:
    period: str  # YYYY-MM-DD or YYYY-MM
    video_id: int
    title: str
    licence_id: int
    distributor: str
    views: int
    watch_seconds: float
    ad_revenue: Money  # what campaigns were charged for ads in the title, to the nearest minor unit
    sales: Money  # paid orders placed from the title, less refunds
    share: Money  # the licensor's share of ad revenue plus sales

    @property
    def currency(self) -> str:
        return self.share.currency


@dataclass
class _Tally:
    """One row's figures while they are being added up."""

    period: str
    video_id: int
    title: str
    licence: Terms
    views: int = 0
    watch_seconds: float = 0.0
    ad_millis: int = 0
    sales: int = 0

    def row(self, currency: str) -> RevenueRow:
        ad_revenue = MilliMoney(self.ad_millis, currency).rounded()
        sales = Money(self.sales, currency)
        return RevenueRow(
            period=self.period,
            video_id=self.video_id,
            title=self.title,
            licence_id=self.licence.id,
            distributor=self.licence.distributor,
            views=self.views,
            watch_seconds=round(self.watch_seconds, 1),
            ad_revenue=ad_revenue,
            sales=sales,
            share=(ad_revenue + sales).share_bps(self.licence.share_bps),
        )


@dataclass
class Report:
    rows: list[RevenueRow]
    currency: str
    unlicensed_items: int  # events, ads and orders in a territory or day no licence covered
    other_currency_items: int


def _day_range(start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise InvalidInput(_("The period ends after it starts."), field="end")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(_("A report covers at most {days} days.", days=MAX_DAYS), field="end")
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def revenue_share(
    session: Session, user: User, start: date | None, end: date | None, currency: str, by: str = "month"
) -> Report:
    """The report for the titles `user` owns (all licensed titles, for an admin), from `start` to `end`
    inclusive (by default: today, and a year before the first of this month), by "day" or "month"."""
    if by not in ("day", "month"):
        raise InvalidInput(_("Group by day or month."), field="by")
    end = end or clock.now().date()
    if end >= date.max:  # the report reads up to the start of the day after the last
        raise InvalidInput(_("The period ends after the calendar does."), field="end")
    start = start or clock.days_before(end.replace(day=1), DEFAULT_DAYS)
    since, until = _day_range(start, end)
    query = select(Licence).join(Video, Video.id == Licence.video_id)
    if user.role != Role.admin:
        query = query.where(Video.owner_id == user.id)
    licences = list(session.scalars(query))
    terms: dict[int, list[Terms]] = defaultdict(list)
    for licence in licences:
        terms[licence.video_id].append(Terms.of(licence))
    titles = dict(session.execute(select(Video.id, Video.title).where(Video.id.in_(terms))).all())
    rows: dict[tuple[str, int], _Tally] = {}
    missed = other = 0

    def credit(video_id: int, territory: str | None, day: date) -> _Tally | None:
        nonlocal missed
        noon = datetime.combine(day, time(12), UTC)
        found = covering(terms[video_id], territory or "ZZ", noon)
        if not found:
            missed += 1
            return None
        licence = found[0]
        period = day.isoformat() if by == "day" else day.isoformat()[:7]
        key = (period, licence.id)
        if key not in rows:
            rows[key] = _Tally(period, video_id, titles.get(video_id, ""), licence)
        return rows[key]

    video_ids = list(terms)
    dialect = session.get_bind().dialect.name
    # Views and watch time from the player events' daily rollups (a minute behind at most).
    for video_id, territory, day, views in session.execute(
        select(DailyStats.video_id, DailyStats.territory, DailyStats.day, func.sum(DailyStats.events))
        .where(DailyStats.video_id.in_(video_ids), DailyStats.type == "play", *on_days(DailyStats.day, start, end))
        .group_by(DailyStats.video_id, DailyStats.territory, DailyStats.day)
    ):
        if (row := credit(video_id, territory or None, _day(day))) is not None:
            row.views += int(views)
    for video_id, territory, day, seconds in session.execute(
        select(DailyViewer.video_id, DailyViewer.territory, DailyViewer.day, func.sum(DailyViewer.furthest_s))
        .where(DailyViewer.video_id.in_(video_ids), *on_days(DailyViewer.day, start, end))
        .group_by(DailyViewer.video_id, DailyViewer.territory, DailyViewer.day)
    ):
        if (row := credit(video_id, territory or None, _day(day))) is not None:
            row.watch_seconds += float(seconds or 0)
    ad_day = utc_day(AdEvent.created_at, dialect)
    for video_id, territory, day, ad_currency, millis in session.execute(
        select(AdDecision.video_id, AdDecision.territory, ad_day, Campaign.currency, func.sum(AdEvent.charged_millis))
        .join(AdDecision, AdDecision.id == AdEvent.decision_id)
        .join(Campaign, Campaign.id == AdEvent.campaign_id)
        .where(
            AdDecision.video_id.in_(video_ids),
            AdEvent.charged_millis > 0,
            AdEvent.created_at >= since,
            AdEvent.created_at < until,
        )
        .group_by(AdDecision.video_id, AdDecision.territory, ad_day, Campaign.currency)
    ):
        if ad_currency != currency:
            other += 1
        elif (row := credit(video_id, territory, _day(day))) is not None:
            row.ad_millis += int(millis)
    order_day = utc_day(Order.created_at, dialect)
    for video_id, territory, day, order_currency, amount in session.execute(
        select(
            Order.source_video_id,
            Order.territory,
            order_day,
            Order.currency,
            func.sum(Order.total_amount - Order.refunded_amount),
        )
        .where(
            Order.source_video_id.in_(video_ids),
            Order.status.in_(PAID),
            Order.created_at >= since,
            Order.created_at < until,
        )
        .group_by(Order.source_video_id, Order.territory, order_day, Order.currency)
    ):
        if order_currency != currency:
            other += 1
        elif (row := credit(video_id, territory, _day(day))) is not None:
            row.sales += int(amount)
    ordered = sorted(rows.values(), key=lambda t: (t.period, t.video_id, t.licence.id))
    return Report([tally.row(currency) for tally in ordered], currency, missed, other)


CSV_COLUMNS = [
    "period",
    "video_id",
    "title",
    "licence_id",
    "distributor",
    "views",
    "watch_seconds",
    "ad_revenue",
    "sales",
    "share",
    "currency",
]


def as_csv(report: Report) -> str:
    """The report's rows as CSV with a header; money in minor units of the report's currency."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in report.rows:
        writer.writerow(
            [
                r.period,
                r.video_id,
                r.title,
                r.licence_id,
                r.distributor,
                r.views,
                r.watch_seconds,
                r.ad_revenue.amount,
                r.sales.amount,
                r.share.amount,
                r.currency,
            ]
        )
    return out.getvalue()
