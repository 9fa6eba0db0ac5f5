"""Tables of the analytics domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime


class PlayerEvent(Base):
    """One thing a viewer did, at a second of a video; append-only, de-duplicated by the player's own id."""

    __tablename__ = "player_events"
    __table_args__ = (UniqueConstraint("viewer_key", "client_event_id", name="one_event_per_client_id"),)

    # 64-bit on PostgreSQL (billions of events); SQLite's rowid is 64-bit already and must stay its alias.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    viewer_key: Mapped[str] = mapped_column(String(64))
    client_event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(24), index=True)
    video_id: Mapped[int] = mapped_column(Integer, index=True)
    second: Mapped[float] = mapped_column(Float)
    product_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tag_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    territory: Mapped[str | None] = mapped_column(String(2), nullable=True)  # where the viewer was
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SecondStats(Base):
    """One second of one video: viewers who began or stopped watching there, and what they did with the cards.

    Viewers still watching at a second are the running sum of `joined` minus those who `dropped` before it,
    so that a viewer who watches further changes two rows, not every second in between."""

    __tablename__ = "video_second_stats"

    video_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    second: Mapped[int] = mapped_column(Integer, primary_key=True)
    joined: Mapped[int] = mapped_column(Integer, default=0)  # viewers first seen at this second
    dropped: Mapped[int] = mapped_column(Integer, default=0)  # viewers whose furthest second this is
    shown: Mapped[int] = mapped_column(Integer, default=0)
    clicked: Mapped[int] = mapped_column(Integer, default=0)
    buys: Mapped[int] = mapped_column(Integer, default=0)
    purchases: Mapped[int] = mapped_column(Integer, default=0)


class ViewerSpan(Base):
    """The seconds of a video one viewer has been seen at, first to furthest (clamped to its length)."""

    __tablename__ = "video_viewer_spans"

    video_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    viewer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_second: Mapped[int] = mapped_column(Integer)
    last_second: Mapped[int] = mapped_column(Integer)


class RollupState(Base):
    """How far a rollup has read the raw events (one row per rollup, by name)."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    rolled_up_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DailyStats(Base):
    """Events of one type per UTC day, video, product, tag and territory (0 and "" where none)."""

    __tablename__ = "daily_event_stats"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    video_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    territory: Mapped[str] = mapped_column(String(2), primary_key=True)
    type: Mapped[str] = mapped_column(String(24), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class DailyViewer(Base):
    """One viewer of one video on one UTC day, from one territory: how far into it they got (watch time)."""

    __tablename__ = "daily_viewers"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    video_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    territory: Mapped[str] = mapped_column(String(2), primary_key=True)
    viewer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    furthest_s: Mapped[float] = mapped_column(Float)
