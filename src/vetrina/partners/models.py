"""Tables of the partners domain."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, StoredText, UTCDateTime
from vetrina.i18n import _
from vetrina.leases import Leased, LeaseStatuses


class RunStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class MediaStatus(enum.StrEnum):
    pending = "pending"  # to fetch (new, or its media address changed)
    done = "done"
    failed = "failed"


class PartnerFeed(Base):
    """A partner's catalogue feed: where it is, what format, and how often it is re-read."""

    __tablename__ = "partner_feeds"
    __table_args__ = (UniqueConstraint("partner_id", "source", name="one_feed_per_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(2000))  # an http(s) URL, or a local path given on the command line
    format: Mapped[str] = mapped_column(String(8), default="auto")  # auto | mrss | csv
    rerun_hours: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: only when asked
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeedRun(Leased, Base):
    """One import of a feed: its lease, its progress (durable up to `cursor` items), and its report."""

    __tablename__ = "feed_runs"
    lease_statuses: ClassVar[LeaseStatuses] = LeaseStatuses(
        waiting=RunStatus.queued.value, running=RunStatus.running.value, failed=RunStatus.failed.value
    )
    lease_work: ClassVar[str] = _("The import")

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("partner_feeds.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # cli | api | schedule
    fetch_media: Mapped[bool] = mapped_column(Boolean, default=True)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)  # items in the feed, once counted
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # items done (committed) so far, in feed order
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class FeedItem(Base):
    """A title as the feed describes it, keyed by the feed's GUID; its video once the media is in."""

    __tablename__ = "feed_items"
    # Also the index for lookups by feed: a second one on feed_id alone misled PostgreSQL's generic plans.
    __table_args__ = (UniqueConstraint("feed_id", "guid", name="one_item_per_guid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("partner_feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))  # of everything imported from the item
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    media_url: Mapped[str] = mapped_column(String(2000))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # categories, keywords, rating, ...
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), nullable=True)
    media_status: Mapped[str] = mapped_column(String(16), default=MediaStatus.pending.value, index=True)
    media_error: Mapped[str | None] = mapped_column(StoredText(), nullable=True)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_run_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeedFailure(Base):
    """An item a run could not import, and why."""

    __tablename__ = "feed_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("feed_runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based, in feed order
    guid: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reason: Mapped[str] = mapped_column(StoredText())
