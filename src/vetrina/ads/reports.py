"""What a campaign did: impressions, quartiles, clicks, spend, and the purchases it can claim.

A purchase is attributed to a campaign when a signed-in viewer who clicked one of its ads paid an order
from the campaign's merchant within `ads_click_window_days` of the click (click-through), or, without a
click, within `ads_view_window_days` of seeing it (view-through). Each order counts once.

Everything counts valid traffic only; what `traffic` filtered out (bots, bursts, beacons from another viewer, late
ones) is reported apart, by reason, and never charged."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina.ads.models import AdDecision, AdEvent, Campaign
from vetrina.commerce.models import Order, OrderStatus
from vetrina.money import Money

QUARTILES = ("start", "firstQuartile", "midpoint", "thirdQuartile", "complete")


def campaign_report(session: Session, campaign: Campaign, click_days: float, view_days: float) -> dict[str, Any]:
    counts: dict[str, int] = {}
    filtered: dict[str, dict[str, int]] = defaultdict(dict)  # reason -> event -> count
    for event, reason, count in session.execute(
        select(AdEvent.event, AdEvent.filtered_reason, func.count())
        .where(AdEvent.campaign_id == campaign.id)
        .group_by(AdEvent.event, AdEvent.filtered_reason)
    ):
        if reason is None:
            counts[event] = count
        else:
            filtered[reason][event] = count
    impressions, clicks = counts.get("impression", 0), counts.get("click", 0)
    purchases = _attributed(session, campaign, click_days, view_days)
    spend = campaign.spent.whole_units()
    daily: dict[str, dict[str, int]] = defaultdict(lambda: {"impressions": 0, "clicks": 0, "spend_millis": 0})
    rows = session.execute(
        select(func.date(AdEvent.created_at), AdEvent.event, func.count(), func.sum(AdEvent.charged_millis))
        .where(
            AdEvent.campaign_id == campaign.id,
            AdEvent.event.in_(["impression", "click"]),
            AdEvent.filtered_reason.is_(None),
        )
        .group_by(func.date(AdEvent.created_at), AdEvent.event)
    ).all()
    for day, event, count, charged in rows:
        entry = daily[str(day)]
        entry["impressions" if event == "impression" else "clicks"] += count
        entry["spend_millis"] += int(charged or 0)
    return {
        "campaign_id": campaign.id,
        "impressions": impressions,
        "clicks": clicks,
        "ctr": round(clicks / impressions, 4) if impressions else 0.0,
        "quartiles": {name: counts.get(name, 0) for name in QUARTILES},
        "skips": counts.get("skip", 0),
        "errors": counts.get("error", 0),
        "spend": spend.as_json(),
        "purchases": {
            "click_through": purchases[0],
            "view_through": purchases[1],
            "revenue": Money(purchases[2], campaign.currency).as_json(),
        },
        "cost_per_purchase": Money(spend.amount // max(1, purchases[0] + purchases[1]), campaign.currency).as_json()
        if purchases[0] + purchases[1]
        else None,
        "daily": [{"day": day, **values} for day, values in sorted(daily.items())],
        "filtered": {
            "impressions": sum(by_event.get("impression", 0) for by_event in filtered.values()),
            "clicks": sum(by_event.get("click", 0) for by_event in filtered.values()),
            # Every recorded event not charged nor counted above, by why (traffic.Filtered).
            "by_reason": {reason: sum(by_event.values()) for reason, by_event in sorted(filtered.items())},
        },
    }


def _attributed(session: Session, campaign: Campaign, click_days: float, view_days: float) -> tuple[int, int, int]:
    """(click-through orders, view-through orders, their revenue in minor units)."""
    seen: dict[int, list[tuple[datetime, str]]] = defaultdict(list)  # user -> [(when, impression | click)]
    for viewer, event, at in session.execute(
        select(AdDecision.viewer_key, AdEvent.event, AdEvent.created_at)
        .join(AdEvent, AdEvent.decision_id == AdDecision.id)
        .where(
            AdDecision.campaign_id == campaign.id,
            AdEvent.event.in_(["impression", "click"]),
            AdEvent.filtered_reason.is_(None),
            AdDecision.viewer_key.like("user:%"),
        )
    ):
        seen[int(viewer.split(":", 1)[1])].append((at, event))
    if not seen:
        return 0, 0, 0
    orders = session.execute(
        select(Order.buyer_id, Order.paid_at, Order.total_amount).where(
            Order.buyer_id.in_(list(seen)),
            Order.merchant_id == campaign.merchant_id,
            Order.paid_at.is_not(None),
            Order.status != OrderStatus.TRADE_CLOSED.value,
            Order.currency == campaign.currency,
        )
    ).all()
    click_through = view_through = revenue = 0
    for buyer, paid_at, total in orders:
        assert paid_at is not None  # the query takes paid orders only
        touches = seen[buyer]
        if any(e == "click" and at <= paid_at <= at + timedelta(days=click_days) for at, e in touches):
            click_through += 1
        elif any(e == "impression" and at <= paid_at <= at + timedelta(days=view_days) for at, e in touches):
            view_through += 1
        else:
            continue
        revenue += total
    return click_through, view_through, revenue
