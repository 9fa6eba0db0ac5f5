"""Tables of the shoppable domain."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, StoredTexts, UTCDateTime
from vetrina.i18n import _
from vetrina.leases import Leased, LeaseStatuses


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


class AutotagStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class AutotagRun(Leased, Base):
    """One recognition pass over a video for a set of candidate products, on behalf of `requested_by`."""

    __tablename__ = "autotag_runs"
    __table_args__ = {"sqlite_autoincrement": True}
    lease_statuses: ClassVar[LeaseStatuses] = LeaseStatuses(
        waiting=AutotagStatus.queued.value, running=AutotagStatus.running.value, failed=AutotagStatus.failed.value
    )
    lease_work: ClassVar[str] = _("Recognition")

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    product_ids: Mapped[list[int]] = mapped_column(JSON)
    # What the candidates' photos were when the run started; a changed catalogue gets a new run.
    catalogue_key: Mapped[str] = mapped_column(String(64))
    notes: Mapped[list[str]] = mapped_column(StoredTexts(), default=list)
    proposals: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ProposalState(enum.StrEnum):
    proposed = "proposed"
    accepted = "accepted"
    rejected = "rejected"


class TagProposal(Base):
    """A tag recognition suggests: accepted, it becomes an ordinary ProductTag (`tag_id`)."""

    __tablename__ = "tag_proposals"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("autotag_runs.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    box: Mapped[dict[str, float]] = mapped_column(JSON)  # at the span's middle
    keyframes: Mapped[list[dict[str, float]]] = mapped_column(JSON, default=list)
    confidence: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default=ProposalState.proposed.value, index=True)
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("product_tags.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
