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
