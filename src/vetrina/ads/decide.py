"""Which ad plays: eligibility, frequency caps, pacing, and a second-price auction on effective CPM.

Effective CPM (eCPM) puts both kinds of bid on one scale: a CPM bid is its eCPM; a CPC bid is worth
its price times the campaign's expected click rate, per thousand impressions. The winner pays the
second-highest eCPM (or the video's floor, whichever is higher), never more than its own bid.
Pacing: by any moment of a UTC day a campaign may have spent at most the share of its daily budget
that the day has used up (so nothing is spent in one burst at midnight), and never more than its
total budget; both are rechecked atomically when an impression is charged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina.ads.models import AdDecision, AdEvent, Campaign, CampaignDay, CampaignStatus
from vetrina.catalog.models import Channel
from vetrina.media.models import Video

PRIOR_CTR = 0.01  # the click rate assumed for a CPC campaign until it has its own
PRIOR_WEIGHT = 200  # impressions the prior counts for


@dataclass(frozen=True)
class Request:
    """One slot to fill: in this video, for this viewer, seen from here on this device, now."""

    video: Video
    slot: str
    kind: str  # linear | overlay
    viewer_key: str
    territory: str | None
    device: str | None
    now: datetime
    floor_cpm: int = 0
    currency: str | None = None


@dataclass(frozen=True)
class Decision:
    campaign: Campaign
    price_millis: int  # per impression (cpm) or per click (cpc), thousandths of a minor unit
    ecpm: float
    decision_id: str


def day_share(now: datetime) -> float:
    """How much of the UTC day has passed, 0..1."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return (now - midnight).total_seconds() / 86400


def _targeted(campaign: Campaign, request: Request, channel: str | None) -> bool:
    targeting = campaign.targeting or {}
    checks = (
        ("channels", channel), ("territories", request.territory), ("devices", request.device),
        ("hours", request.now.hour),
    )  # fmt: skip
    return all(key not in targeting or value in targeting[key] for key, value in checks)


def _ctr(session: Session, campaign_ids: list[int]) -> dict[int, float]:
    counts = session.execute(
        select(AdEvent.campaign_id, AdEvent.event, func.count())
        .where(AdEvent.campaign_id.in_(campaign_ids), AdEvent.event.in_(["impression", "click"]))
        .group_by(AdEvent.campaign_id, AdEvent.event)
    ).all()  # fmt: skip
    seen: dict[int, dict[str, int]] = {}
    for campaign_id, event, count in counts:
        seen.setdefault(campaign_id, {})[event] = count
    return {
        cid: (seen.get(cid, {}).get("click", 0) + PRIOR_CTR * PRIOR_WEIGHT)
        / (seen.get(cid, {}).get("impression", 0) + PRIOR_WEIGHT)
        for cid in campaign_ids
    }


def _capped(session: Session, campaigns: list[Campaign], viewer_key: str, now: datetime) -> set[int]:
    """Campaigns this viewer has seen as often as their frequency cap allows."""
    capped = [c for c in campaigns if c.frequency_cap_count]
    if not capped:
        return set()
    longest = max(c.frequency_cap_hours or 24 for c in capped)
    rows = session.execute(
        select(AdDecision.campaign_id, AdDecision.created_at).join(AdEvent, AdEvent.decision_id == AdDecision.id)
        .where(AdDecision.viewer_key == viewer_key, AdEvent.event == "impression",
               AdDecision.campaign_id.in_([c.id for c in capped]),
               AdDecision.created_at >= now - timedelta(hours=longest))
    ).all()  # fmt: skip
    out = set()
    for campaign in capped:
        since = now - timedelta(hours=campaign.frequency_cap_hours or 24)
        if sum(1 for cid, at in rows if cid == campaign.id and at >= since) >= campaign.frequency_cap_count:
            out.add(campaign.id)
    return out


def _paced_out(session: Session, campaigns: list[Campaign], now: datetime) -> set[int]:
    """Campaigns ahead of their pace today (or out of budget altogether)."""
    spent_today = dict(session.execute(
        select(CampaignDay.campaign_id, CampaignDay.spent_millis)
        .where(CampaignDay.campaign_id.in_([c.id for c in campaigns]), CampaignDay.day == now.date())
    ).all())  # fmt: skip
    share = day_share(now)
    return {
        c.id for c in campaigns
        if spent_today.get(c.id, 0) >= c.budget_daily * 1000 * share or c.spent_millis >= c.budget_total * 1000
    }  # fmt: skip


def decide(session: Session, request: Request) -> Decision | None:
    """The winning campaign for the slot and what it pays; None when nothing may play (a valid empty answer)."""
    query = select(Campaign).where(
        Campaign.status == CampaignStatus.active.value, Campaign.kind == request.kind,
        Campaign.starts_at <= request.now, Campaign.ends_at > request.now,
    )  # fmt: skip
    if request.currency:
        query = query.where(Campaign.currency == request.currency)
    campaigns = list(session.scalars(query))
    if not campaigns:
        return None
    channel = session.scalar(select(Channel.handle).where(Channel.merchant_id == request.video.owner_id))
    campaigns = [c for c in campaigns if _targeted(c, request, channel)]
    excluded = _capped(session, campaigns, request.viewer_key, request.now) | _paced_out(
        session, campaigns, request.now
    )
    campaigns = [c for c in campaigns if c.id not in excluded]
    if not campaigns:
        return None
    ctr = _ctr(session, [c.id for c in campaigns if c.bid_model == "cpc"])
    ranked = sorted(
        ((c.bid_amount if c.bid_model == "cpm" else c.bid_amount * ctr[c.id] * 1000, c) for c in campaigns),
        key=lambda pair: (-pair[0], pair[1].id),
    )
    best_ecpm, winner = ranked[0]
    if best_ecpm < request.floor_cpm:
        return None
    clearing = max(ranked[1][0] if len(ranked) > 1 else 0.0, float(request.floor_cpm))
    clearing = min(clearing, best_ecpm) or best_ecpm * 0.5  # alone and without a floor: half its bid
    if winner.bid_model == "cpm":
        price_millis = max(1, round(clearing))  # per impression: CPM / 1000 minor units = CPM millis
    else:
        price_millis = max(1, round(clearing / (ctr[winner.id] * 1000) * 1000))  # per click
    decision = AdDecision(
        id=secrets.token_hex(16), campaign_id=winner.id, video_id=request.video.id, slot=request.slot,
        viewer_key=request.viewer_key, price_millis=price_millis, created_at=request.now,
    )  # fmt: skip
    session.add(decision)
    return Decision(campaign=winner, price_millis=price_millis, ecpm=best_ecpm, decision_id=decision.id)
