"""Tables of the studio: the merchant's uploaded images and music, and the spots it renders."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime


class AssetKind(enum.StrEnum):
    image = "image"
    music = "music"


class StudioAsset(Base):
    """An image or a music track a merchant uploaded for its spots."""

    __tablename__ = "studio_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(200))
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SpotStatus(enum.StrEnum):
    queued = "queued"
    rendering = "rendering"
    # Rendered and handed to the media pipeline as `video_id`; the video's own status says the rest.
    published = "published"
    failed = "failed"


class Spot(Base):
    """A video ad spot made in the studio: what was asked for, and how its render is going."""

    __tablename__ = "studio_spots"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The checked request: template, copy, duration, aspect, product ids and the media keys to use.
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=SpotStatus.queued.value, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the merchant should know: fallbacks taken (no voice engine, a voice-over cut short, ...).
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    render_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
