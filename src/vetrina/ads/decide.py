"""Which ad plays: eligibility, frequency caps, pacing, and a second-price auction on effective CPM.

Effective CPM (eCPM) puts both kinds of bid on one scale: a CPM bid is its eCPM; a CPC bid is worth
its price times the campaign's expected click rate, per thousand impressions. The winner pays the
second-highest eCPM (or the video's floor, whichever is higher), never more than its own bid; alone and
without a floor it pays half its bid.

Pacing: by any moment of a UTC day a campaign may have spent at most the share of its daily budget
that the day has used up (nothing is spent in one burst after midnight), and never more than its total
budget; both are rechecked atomically when an impression is charged (`tracking.charge`).

Speed: deciding writes nothing (the served ad travels as a signed token, `tokens.py`). The active
campaigns and today's spend are read from a per-process `CampaignBook` refreshed every few seconds (by
one thread at a time); only the best two candidates (more if the viewer has hit some caps) are checked
against the viewer's frequency caps in the database, the one query a decision may make.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, ClassVar, TypeVar, cast

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.ads import tokens
from vetrina.ads.models import AdDecision, AdEvent, Campaign, CampaignDay, CampaignStatus, VideoAdSettings
from vetrina.catalog.models import Channel
from vetrina.context import Topic
from vetrina.media.models import Video
from vetrina.money import MilliMoney, in_millis
from vetrina.settings import Settings

PRIOR_CTR = 0.01  # the click rate assumed for a CPC campaign until it has its own
PRIOR_WEIGHT = 200  # impressions the prior counts for
CHUNK = 8  # candidates checked against the viewer's caps at a time, after the first two
PER_MILLE = 1000  # impressions a CPM prices
RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Candidate:
    """What deciding needs of a campaign, read once per refresh of the book.

    Budgets and spend are plain int millis: the auction compares them for every candidate of every decision,
    so they are converted (`in_millis`) once per refresh, and the price becomes MilliMoney once per decision."""

    id: int
    merchant_id: int
    name: str
    kind: str
    bid_model: str
    bid_amount: int
    currency: str
    budget_total_millis: int
    budget_daily_millis: int
    spent_millis: int
    starts_at: datetime
    ends_at: datetime
    targeting: dict[str, Any]
    cap_count: int | None
    cap_hours: int | None
    video_id: int | None
    product_id: int | None
    vast_url: str | None
    skippable: bool
    ecpm: float  # the bid on one scale (CPC bids at the campaign's click rate)


class CampaignBook:
    """The active campaigns, re-read at most every `ttl_s` seconds per process (0: on every decision)."""

    topics: ClassVar[frozenset[Topic]] = frozenset({Topic.campaigns, Topic.video})

    @classmethod
    def from_settings(cls, settings: Settings) -> CampaignBook:
        return cls(ttl_s=settings.ads_campaign_cache_s)

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._reloading = threading.Lock()  # one re-read at a time: others keep deciding from the last one
        self._generation = 0  # bumped by `forget`: a re-read begun before it does not count as fresh
        self._stale_ok = False  # whether the last read may serve while another thread re-reads
        self._loaded_at = float("-inf")
        self._campaigns: list[Candidate] = []
        self._channels: dict[int, str | None] = {}
        self._rows: dict[tuple[type, int], tuple[float, Any]] = {}
        self.spent_today: dict[int, int] = {}  # campaign -> millis spent on the UTC day of the last refresh
        self.day: date | None = None

    def forget(self, key: int | None = None) -> None:
        """Re-read everything at the next decision (`key` is ignored: one changed row is reason enough)."""
        with self._lock:
            self._loaded_at, self._stale_ok = float("-inf"), False
            self._generation += 1
            self._rows = {}

    def active(self, session: Session) -> list[Candidate]:
        with self._lock:
            if time.monotonic() - self._loaded_at < self.ttl_s:
                return self._campaigns
            stale_ok = self._stale_ok
        # Without this, every thread that finds the book expired re-reads it at once (a stampede that
        # stalled all decisions for up to a second under load).
        if not self._reloading.acquire(blocking=not stale_ok):
            return self._campaigns
        try:
            with self._lock:
                if time.monotonic() - self._loaded_at < self.ttl_s:
                    return self._campaigns
                generation = self._generation
            return self._reload(session, generation)
        finally:
            self._reloading.release()

    def _reload(self, session: Session, generation: int) -> list[Candidate]:
        rows = list(session.scalars(select(Campaign).where(Campaign.status == CampaignStatus.active.value)))
        today = clock.now().date()
        spent_today = dict(
            session.execute(
                select(CampaignDay.campaign_id, CampaignDay.spent_millis).where(CampaignDay.day == today)
            ).all()
        )
        ctr = _ctr(session, [c.id for c in rows if c.bid_model == "cpc"])
        campaigns = [
            Candidate(
                id=c.id,
                merchant_id=c.merchant_id,
                name=c.name,
                kind=c.kind,
                bid_model=c.bid_model,
                bid_amount=c.bid_amount,
                currency=c.currency,
                budget_total_millis=in_millis(c.budget_total),
                budget_daily_millis=in_millis(c.budget_daily),
                spent_millis=c.spent_millis,
                starts_at=c.starts_at,
                ends_at=c.ends_at,
                targeting=c.targeting or {},
                cap_count=c.frequency_cap_count,
                cap_hours=c.frequency_cap_hours,
                video_id=c.video_id,
                product_id=c.product_id,
                vast_url=c.vast_url,
                skippable=c.skippable,
                ecpm=float(c.bid_amount) if c.bid_model == "cpm" else c.bid_amount * ctr[c.id] * PER_MILLE,
            )
            for c in rows
        ]
        campaigns.sort(key=lambda c: (-c.ecpm, c.id))
        with self._lock:
            self._campaigns, self._channels, self.spent_today, self.day = campaigns, {}, spent_today, today
            if generation == self._generation:  # else a change was committed meanwhile: re-read next time
                self._loaded_at, self._stale_ok = time.monotonic(), self.ttl_s > 0
        return campaigns

    def video(self, session: Session, video_id: int) -> Video | None:
        """The video's row as of at most `ttl_s` ago (detached, read-only), or None."""
        return self._cached(session, Video, video_id)

    def ad_settings(self, session: Session, video_id: int) -> VideoAdSettings | None:
        return self._cached(session, VideoAdSettings, video_id)

    def _cached(self, session: Session, model: type[RowT], key: int) -> RowT | None:
        now = time.monotonic()
        hit = self._rows.get((model, key))
        if hit is not None and now - hit[0] < self.ttl_s:
            return cast(RowT | None, hit[1])  # stored under its model's key just below
        row = session.get(model, key)
        if row is not None:
            session.expunge(row)  # kept across sessions and threads, read only
        if len(self._rows) > 10_000:
            self._rows.clear()
        self._rows[(model, key)] = (now, row)
        return row

    def channel_of(self, session: Session, owner_id: int) -> str | None:
        if owner_id not in self._channels:
            self._channels[owner_id] = session.scalar(select(Channel.handle).where(Channel.merchant_id == owner_id))
        return self._channels[owner_id]


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
    address_tag: str = ""  # the viewer's address, as `traffic.address_tag` hides it, carried by the token


@dataclass(frozen=True)
class Decision:
    campaign: Candidate
    price: MilliMoney  # per impression (cpm) or per click (cpc)
    ecpm: float
    decision_id: str  # the signed token of the served ad


def day_share(now: datetime) -> float:
    """How much of the UTC day has passed, 0..1."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return (now - midnight).total_seconds() / 86400


def _targeted(campaign: Candidate, request: Request, channel: str | None) -> bool:
    checks = (
        ("channels", channel),
        ("territories", request.territory),
        ("devices", request.device),
        ("hours", request.now.hour),
    )
    return all(key not in campaign.targeting or value in campaign.targeting[key] for key, value in checks)


def _ctr(session: Session, campaign_ids: list[int]) -> dict[int, float]:
    if not campaign_ids:
        return {}
    counts = session.execute(
        select(AdEvent.campaign_id, AdEvent.event, func.count())
        .where(
            AdEvent.campaign_id.in_(campaign_ids),
            AdEvent.event.in_(["impression", "click"]),
            AdEvent.filtered_reason.is_(None),  # invalid clicks must not raise a campaign's expected click rate
        )
        .group_by(AdEvent.campaign_id, AdEvent.event)
    ).all()
    seen: dict[int, dict[str, int]] = {}
    for campaign_id, event, count in counts:
        seen.setdefault(campaign_id, {})[event] = count
    return {
        cid: (seen.get(cid, {}).get("click", 0) + PRIOR_CTR * PRIOR_WEIGHT)
        / (seen.get(cid, {}).get("impression", 0) + PRIOR_WEIGHT)
        for cid in campaign_ids
    }


# Built once: the per-decision query is then only bound and run (building it cost more than running it).
_RECENTLY_SEEN = select(AdDecision.campaign_id, AdDecision.created_at).where(
    AdDecision.viewer_key == bindparam("viewer"),
    AdDecision.campaign_id.in_(bindparam("campaigns", expanding=True)),
    AdDecision.created_at >= bindparam("since"),
)


def _capped(session: Session, campaigns: list[Candidate], viewer_key: str, now: datetime) -> set[int]:
    """Of `campaigns`, those this viewer has seen as often as their frequency cap allows."""
    caps = [(c.id, c.cap_count, c.cap_hours or 24) for c in campaigns if c.cap_count]  # (campaign, views, hours)
    if not caps:
        return set()
    longest = max(hours for _, _, hours in caps)
    rows = session.execute(
        _RECENTLY_SEEN,
        {
            "viewer": viewer_key,
            "campaigns": [campaign_id for campaign_id, _, _ in caps],
            "since": now - timedelta(hours=longest),
        },
    ).all()
    out = set()
    for campaign_id, cap_count, hours in caps:
        since = now - timedelta(hours=hours)
        if sum(1 for cid, at in rows if cid == campaign_id and at >= since) >= cap_count:
            out.add(campaign_id)
    return out


def _paced_out(book: CampaignBook, campaign: Candidate, now: datetime) -> bool:
    """Whether the campaign is ahead of its pace today or out of budget, by the book's figures (at most
    `ttl_s` old: pacing may run that far ahead; the total budget is enforced exactly when charging)."""
    spent_today = book.spent_today if book.day == now.date() else {}  # a new day starts from nothing
    return (
        spent_today.get(campaign.id, 0) >= campaign.budget_daily_millis * day_share(now)
        or campaign.spent_millis >= campaign.budget_total_millis
    )


def decide(session: Session, request: Request, book: CampaignBook, signing_key: bytes) -> Decision | None:
    """The winning campaign for the slot and what it pays; None when nothing may play (a valid empty answer)."""
    channel = book.channel_of(session, request.video.owner_id)
    # Candidates in eCPM order, filtered lazily: most decisions look at only the first few.
    matching = (
        c
        for c in book.active(session)
        if c.kind == request.kind
        and c.starts_at <= request.now < c.ends_at
        and (request.currency is None or c.currency == request.currency)
        and _targeted(c, request, channel)
        and not _paced_out(book, c, request.now)
    )
    # The auction needs the best two; the viewer's caps are read for those, then for more if some are capped.
    eligible: list[Candidate] = []
    batch = 2
    while len(eligible) < 2 and (chunk := list(islice(matching, batch))):
        capped = _capped(session, chunk, request.viewer_key, request.now)
        eligible += [c for c in chunk if c.id not in capped]
        batch = CHUNK
    if not eligible:
        return None
    winner = eligible[0]
    if winner.ecpm < request.floor_cpm:
        return None
    clearing = max(eligible[1].ecpm if len(eligible) > 1 else 0.0, float(request.floor_cpm))
    clearing = min(clearing, winner.ecpm) or winner.ecpm * 0.5
    # round() is half to even, money's one rounding rule.
    if winner.bid_model == "cpm":
        price_millis = max(1, round(clearing))  # per impression: a CPM in minor units is that many millis
    else:
        click_rate = winner.ecpm / (winner.bid_amount * PER_MILLE)
        price_millis = max(1, round(in_millis(clearing / (click_rate * PER_MILLE))))  # per click
    token = tokens.sign(
        signing_key,
        winner.id,
        request.video.id,
        request.slot,
        request.viewer_key,
        price_millis,
        request.now.timestamp(),
        request.territory or "",
        request.address_tag,
    )
    price = MilliMoney(price_millis, winner.currency)
    return Decision(campaign=winner, price=price, ecpm=winner.ecpm, decision_id=token)
