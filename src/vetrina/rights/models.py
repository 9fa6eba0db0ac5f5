"""Tables of the rights domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime

USES = ("stream", "ads", "commerce")


class Licence(Base):
    """A title given to a distributor for some territories (or the rest of the world), within a window, for
    some uses, with the licensor's share of what the title earns there."""

    __tablename__ = "licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    distributor: Mapped[str] = mapped_column(String(120))
    territories: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO codes, sorted; empty for the rest
    rest_of_world: Mapped[bool] = mapped_column(Boolean, default=False)
    named_as: Mapped[list[str]] = mapped_column(JSON, default=list)  # as given: codes and group names
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    for_stream: Mapped[bool] = mapped_column(Boolean, default=True)
    for_ads: Mapped[bool] = mapped_column(Boolean, default=False)
    for_commerce: Mapped[bool] = mapped_column(Boolean, default=False)
    share_bps: Mapped[int] = mapped_column(Integer, default=0)  # the licensor's share, basis points
    from_feed: Mapped[bool] = mapped_column(Boolean, default=False)  # made from a feed's media:restriction
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def uses(self) -> list[str]:
        return [use for use in USES if getattr(self, f"for_{use}")]


class LicenceTerritory(Base):
    """One territory a licence names, so lists of titles can be filtered by territory in SQL."""

    __tablename__ = "licence_territories"
    __table_args__ = (Index("ix_licence_territories_video_territory", "video_id", "territory"),)

    licence_id: Mapped[int] = mapped_column(ForeignKey("licences.id", ondelete="CASCADE"), primary_key=True)
    territory: Mapped[str] = mapped_column(String(2), primary_key=True)
    video_id: Mapped[int] = mapped_column(Integer)
