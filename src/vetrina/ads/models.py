"""Tables of the ad marketplace: campaigns, the ads served (decisions), their tracked events, daily spend,
and each video's ad-break settings."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime
from vetrina.money import MilliMoney, Money


class CampaignStatus(enum.StrEnum):
    draft = "draft"
    active = "active"
    paused = "paused"
    exhausted = "exhausted"  # the total budget is spent
    ended = "ended"


class Campaign(Base):
    """A merchant's paid placement: what it shows, what it bids, how much it may spend, where and to whom.

    Money is in minor units of `currency`; spend is counted in thousandths of a minor unit ("millis",
    `MilliMoney`), because one impression at a CPM bid costs a thousandth of the bid."""

    __tablename__ = "ad_campaigns"
    __table_args__ = (
        CheckConstraint("spent_millis >= 0", name="campaign_spend_not_negative"),
        CheckConstraint("bid_amount > 0 AND budget_total > 0 AND budget_daily > 0", name="campaign_money_positive"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # linear | overlay
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), nullable=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), nullable=True)
    vast_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    bid_model: Mapped[str] = mapped_column(String(8))  # cpm | cpc
    bid_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    budget_total: Mapped[int] = mapped_column(BigInteger)
    budget_daily: Mapped[int] = mapped_column(BigInteger)
    spent_millis: Mapped[int] = mapped_column(BigInteger, default=0)
    # Spend moved from the merchant's balance to the platform so far (the settlement job), minor units.
    billed: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    targeting: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    frequency_cap_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frequency_cap_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    skippable: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.draft.value, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def spent(self) -> MilliMoney:
        return MilliMoney(self.spent_millis, self.currency)

    @property
    def total_budget(self) -> Money:
        return Money(self.budget_total, self.currency)


class CampaignDay(Base):
    """What a campaign spent on one (UTC) day: the daily budget and its pacing are checked against it."""

    __tablename__ = "ad_campaign_days"
    __table_args__ = (UniqueConstraint("campaign_id", "day", name="one_row_a_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("ad_campaigns.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    spent_millis: Mapped[int] = mapped_column(BigInteger, default=0)


class AdDecision(Base):
    """One ad served: who won which slot of which video for which viewer, at what price (second price)."""

    __tablename__ = "ad_decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # an unguessable token, in tracking URLs
    campaign_id: Mapped[int] = mapped_column(ForeignKey("ad_campaigns.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    slot: Mapped[str] = mapped_column(String(32))
    viewer_key: Mapped[str] = mapped_column(String(64), index=True)
    price_millis: Mapped[int] = mapped_column(BigInteger)  # charged per impression (CPM) or per click (CPC)
    territory: Mapped[str | None] = mapped_column(String(2), nullable=True)  # where the viewer was
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AdEvent(Base):
    """A tracked event of a served ad, once per kind (the player may fire it again; it counts once). Invalid traffic
    (`vetrina.ads.traffic`) is recorded with the reason it was not charged, and reported apart."""

    __tablename__ = "ad_events"
    __table_args__ = (UniqueConstraint("decision_id", "event", name="ad_event_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("ad_decisions.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(Integer, index=True)
    event: Mapped[str] = mapped_column(String(32))
    charged_millis: Mapped[int] = mapped_column(BigInteger, default=0)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Why it was not charged (a `traffic.Filtered` value: bot, burst, other_viewer, late); None: valid traffic.
    filtered_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VideoAdSettings(Base):
    """The video owner's ad breaks and floor price (absent: a pre-roll and no floor)."""

    __tablename__ = "video_ad_settings"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    preroll: Mapped[bool] = mapped_column(Boolean, default=True)
    midrolls_s: Mapped[list[float]] = mapped_column(JSON, default=list)
    overlays_s: Mapped[list[float]] = mapped_column(JSON, default=list)
    floor_cpm: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units per thousand impressions
    # Move each mid-roll to the nearest scene cut (a job finds them), so ads never break a shot.
    snap_to_scenes: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))

    @property
    def floor(self) -> Money:
        """The lowest CPM the owner takes."""
        return Money(self.floor_cpm, self.currency)
