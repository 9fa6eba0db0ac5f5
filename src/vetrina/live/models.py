"""Tables of the live domain."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime


class ShowStatus(enum.StrEnum):
    scheduled = "scheduled"  # made, never published to
    live = "live"  # a publisher is streaming to its key
    interrupted = "interrupted"  # the publisher stopped; the same key may resume the show
    ended = "ended"  # for good: its key is refused


class LiveShow(Base):
    """One live show: its host, its stream key (kept as a hash, like every token) and where it stands."""

    __tablename__ = "live_shows"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    stream_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    product_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # featured, in the host's order
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    went_live_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The publisher while one streams: its address (nginx-rtmp's `addr`) and nginx's id of its connection.
    publisher_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    publisher_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # the RTMP server's last check
