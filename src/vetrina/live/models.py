"""Tables of the live domain."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from vetrina.db import Base, StoredText, UTCDateTime


class ShowStatus(enum.StrEnum):
    scheduled = "scheduled"  # made, never published to
    live = "live"  # a publisher is streaming to its key
    interrupted = "interrupted"  # the publisher stopped; the same key may resume the show
    ended = "ended"  # for good: its key is refused


ON_AIR = (ShowStatus.live.value, ShowStatus.interrupted.value)


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
    interrupted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Why the RTMP server last dropped the stream after taking it (no video, an unsupported codec, too large).
    stream_problem: Mapped[str | None] = mapped_column(StoredText(300), nullable=True)
    # The live HLS: where it lives in the store, and its rungs, fixed by the first stream (a resumed one keeps them).
    media_prefix: Mapped[str | None] = mapped_column(String(200), nullable=True)
    renditions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # The live encoder that holds the show (one at a time), and when it last said so.
    encoder_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    encoder_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The replay made from the live HLS once the show ended (the video may be deleted later; the show stays made).
    replay_video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), nullable=True)
    replay_made_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    highlights_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # cut (or found none)

    @hybrid_property
    def on_air(self) -> bool:
        """Live, or waiting for its publisher to come back: its events stream, its chat and sales are open."""
        return self.status in ON_AIR

    @on_air.inplace.expression
    @classmethod
    def _on_air_in_sql(cls) -> ColumnElement[bool]:
        return cls.status.in_(ON_AIR)


class LiveSegment(Base):
    """One second (or so) of a show's picture, as published in every rung: when it was live (its program date time,
    the stream time of everything that happens in the show) and how long it lasts. The replay's timeline is the sum
    of these durations."""

    __tablename__ = "live_segments"

    show_id: Mapped[int] = mapped_column(ForeignKey("live_shows.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_time: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[float] = mapped_column(Float)
    discontinuity: Mapped[bool] = mapped_column(Boolean, default=False)  # the first after the publisher resumed


class EventType(enum.StrEnum):
    """What a show's event stream carries (`GET /api/v1/live/{id}/events`)."""

    pin = "pin"  # a product shown on camera: its card appears
    unpin = "unpin"
    flash_sale = "flash_sale"  # a time-limited offer opens (and, as `flash_sale_update`, sells or closes)
    flash_sale_update = "flash_sale_update"
    chat = "chat"
    chat_deleted = "chat_deleted"
    reaction = "reaction"


class LiveEvent(Base):
    """One thing that happened in a show, stamped with the stream time it belongs to (the program date time of the
    frame on camera then), kept so a viewer who reconnects gets what it missed and the replay gets its moments."""

    __tablename__ = "live_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("live_shows.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    stream_time: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LivePin(Base):
    """A product pinned in a show, from one stream time to another (open while pinned): the replay's tags."""

    __tablename__ = "live_pins"

    id: Mapped[int] = mapped_column(primary_key=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("live_shows.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime())  # stream time
    unpinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ChatMessage(Base):
    __tablename__ = "live_chat_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("live_shows.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(500))
    stream_time: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # A muted viewer's message is kept (the host may look) but reaches nobody else.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class ChatSanction(Base):
    """A viewer muted (their messages reach nobody) or banned (they cannot send) in one show."""

    __tablename__ = "live_chat_sanctions"

    show_id: Mapped[int] = mapped_column(ForeignKey("live_shows.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # mute | ban
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ViewerMinute(Base):
    """The most viewers a show had at once in one minute (of the wall clock), summed across web processes."""

    __tablename__ = "live_viewer_minutes"

    show_id: Mapped[int] = mapped_column(ForeignKey("live_shows.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    peak: Mapped[int] = mapped_column(Integer)


class Highlight(Base):
    """One of the moments of a show that sold most, cut from its replay as a wide and a tall clip."""

    __tablename__ = "live_highlights"
    __table_args__ = (UniqueConstraint("show_id", "rank", name="one_highlight_per_rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("live_shows.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)  # 1 sold most
    start_s: Mapped[float] = mapped_column(Float)  # on the replay's timeline
    end_s: Mapped[float] = mapped_column(Float)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), nullable=True)
    units: Mapped[int] = mapped_column(Integer)  # sold in the moment
    wide_video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), nullable=True)
    tall_video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentStatus(enum.StrEnum):
    asked = "asked"
    accepted = "accepted"
    declined = "declined"


class ShowMerchant(Base):
    """A merchant whose products a partner's show features: the partner asks, the merchant accepts or declines;
    only an accepted merchant's products are pinned."""

    __tablename__ = "live_show_merchants"

    show_id: Mapped[int] = mapped_column(ForeignKey("live_shows.id", ondelete="CASCADE"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(10))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
