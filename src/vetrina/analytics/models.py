"""Tables of the analytics domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime


class PlayerEvent(Base):
    """One thing a viewer did, at a second of a video; append-only, de-duplicated by the player's own id."""

    __tablename__ = "player_events"
    __table_args__ = (UniqueConstraint("viewer_key", "client_event_id", name="one_event_per_client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
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
    """One second of one video: who was watching, and what they did with the cards."""

    __tablename__ = "video_second_stats"

    video_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    second: Mapped[int] = mapped_column(Integer, primary_key=True)
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    shown: Mapped[int] = mapped_column(Integer, default=0)
    clicked: Mapped[int] = mapped_column(Integer, default=0)
    buys: Mapped[int] = mapped_column(Integer, default=0)
    purchases: Mapped[int] = mapped_column(Integer, default=0)


class RollupState(Base):
    """Up to which raw event a video's rollup is computed."""

    __tablename__ = "rollup_state"

    video_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer)
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
    viewers: Mapped[int] = mapped_column(Integer)
