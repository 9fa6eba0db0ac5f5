"""Tables of the studio: the merchant's uploaded images and music, and the spots it renders."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, StoredTexts, UTCDateTime
from vetrina.i18n import _
from vetrina.leases import Leased, LeaseStatuses


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


class Spot(Leased, Base):
    """A video ad spot made in the studio: what was asked for, and how its render (under the row's lease) is
    going."""

    __tablename__ = "studio_spots"
    __table_args__ = {"sqlite_autoincrement": True}
    lease_statuses: ClassVar[LeaseStatuses] = LeaseStatuses(
        waiting=SpotStatus.queued.value, running=SpotStatus.rendering.value, failed=SpotStatus.failed.value
    )
    lease_work: ClassVar[str] = _("The render")

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The checked request: template, copy, duration, aspect, product ids and the media keys to use.
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the merchant should know: fallbacks taken (no voice engine, a voice-over cut short, ...).
    notes: Mapped[list[str]] = mapped_column(StoredTexts(), default=list)
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), nullable=True)
    render_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
