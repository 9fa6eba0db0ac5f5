"""Tables of the media domain."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime
from vetrina.i18n import _
from vetrina.leases import Leased, LeaseStatuses


class VideoStatus(enum.StrEnum):
    processing = "processing"
    ready = "ready"
    failed = "failed"


class Video(Leased, Base):
    """An uploaded video; its transcode runs under the row's lease."""

    __tablename__ = "videos"
    # Never reuse the id of a deleted row: ids appear in URLs, caches and other domains' rows.
    __table_args__ = {"sqlite_autoincrement": True}
    # One status for waiting and running: a video is `processing` until its ladder is ready or it failed.
    lease_statuses: ClassVar[LeaseStatuses] = LeaseStatuses(
        waiting=VideoStatus.processing.value, running=VideoStatus.processing.value, failed=VideoStatus.failed.value
    )
    lease_work: ClassVar[str] = _("Transcoding")

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    # Whether merchants other than the owner may tag their own products in this video.
    allow_merchant_tags: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # What the probe found in the upload.
    duration_s: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    frame_rate: Mapped[float] = mapped_column(Float)
    has_audio: Mapped[bool] = mapped_column(Boolean)
    source_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Where the finished ladder lives; set only once all of it is in place.
    output_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    transcode_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ChunkStatus(enum.StrEnum):
    queued = "queued"
    encoding = "encoding"
    done = "done"
    failed = "failed"


# The part number of a chunked transcode's audio, encoded once for the whole file.
AUDIO_PART = -1


class TranscodeChunk(Leased, Base):
    """One part of a long video's transcode, encoded under its own lease by whichever worker takes it: the whole
    ladder of one span of the picture, or (part AUDIO_PART) the audio of the whole file."""

    __tablename__ = "transcode_chunks"
    __table_args__ = (UniqueConstraint("video_id", "part"),)
    lease_statuses: ClassVar[LeaseStatuses] = LeaseStatuses(
        waiting=ChunkStatus.queued.value, running=ChunkStatus.encoding.value, failed=ChunkStatus.failed.value
    )
    lease_work: ClassVar[str] = _("Encoding this part of the video")

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    part: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    until_end: Mapped[bool] = mapped_column(Boolean)  # the last span reads to the end of the source
    # The ladder's key: every part writes its segments there, and the join its playlists, the master last.
    output_key: Mapped[str] = mapped_column(String(300))
    # What the part wrote, for the join: per rendition, its segments as [name, seconds, bytes], and its codecs.
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VideoSubtitle(Base):
    """One language's subtitles of a video: a WebVTT file in storage (media/subtitles.py)."""

    __tablename__ = "video_subtitles"
    __table_args__ = (UniqueConstraint("video_id", "language", name="one_subtitle_per_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(35))  # BCP 47, normalised by vetrina.i18n.check_language
    storage_key: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int] = mapped_column(Integer)
    cue_count: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10))  # "upload" or "feed"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
