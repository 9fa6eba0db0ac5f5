"""Tables of the shoppable domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime


class ProductTag(Base):
    """A product seen in a video from `start_s` to `end_s`, optionally at a box in the frame (normalised 0..1)."""

    __tablename__ = "product_tags"
    __table_args__ = (
        CheckConstraint("start_s >= 0 AND end_s > start_s", name="tag_span_forward"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    # {"x", "y", "w", "h"} at the span's start; keyframes [{"t", "x", "y", "w", "h"}] for moving objects.
    box: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    keyframes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
