"""HLS playlists as Vetrina serves them. Segments are immutable objects; playlists are answered by Vetrina itself,
small, with an ETag and a short max-age, so what a video's playlists say can change without re-encoding. The answer
is the stored playlist as the transcode wrote it, with its segments' URLs pointing straight into the object store
when the title may play anywhere and no edge is configured; and a finished (VOD) media playlist also carries the
video's signals: a program date time from a fixed anchor, and its product moments and ad breaks as
`EXT-X-DATERANGE`s (RFC 8216 4.3.2.7), which any HLS player hands its application as timed metadata."""

from __future__ import annotations

import bisect
import hashlib
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import ClassVar

from vetrina.context import Topic
from vetrina.settings import Settings
from vetrina.storage import MediaStore

# How long a player or cache may keep a playlist before asking again (then, usually, a 304).
PLAYLIST_MAX_AGE_S = 10
# A live media playlist gains a segment every second: kept no longer than half a (1 s) segment, rounded up.
LIVE_PLAYLIST_MAX_AGE_S = 1
MAX_PLAYLIST_BYTES = 4 * 1024**2  # a feature film's media playlist is tens of kilobytes


def is_playlist(key: str) -> bool:
    return key.endswith(".m3u8")


@dataclass(frozen=True)
class Playlist:
    body: bytes
    etag: str  # a strong validator, quoted as HTTP writes it

    @property
    def max_age_s(self) -> int:
        """A media playlist without an end is live: players poll it every segment, so caches keep it briefly."""
        live = b"#EXTINF" in self.body and b"#EXT-X-ENDLIST" not in self.body
        return LIVE_PLAYLIST_MAX_AGE_S if live else PLAYLIST_MAX_AGE_S


def rendered(store: MediaStore, key: str, direct_until: int | None = None) -> Playlist | None:
    """The playlist at `key` as Vetrina serves it; None when there is none. With `direct_until` (unix seconds),
    a media playlist names its segments by URLs straight to the object store, valid until then, when the store
    has such URLs: the segments then never pass through a Vetrina process."""
    if direct_until is None:
        return _stored(store, key)
    # Kept a minute, so its ETag holds while players poll it (a presigned URL differs each time it is made).
    return _with_direct_segments(store, key, direct_until, int(time.monotonic() // 60))


def _stored(store: MediaStore, key: str) -> Playlist | None:
    stream = store.open_stream(key)
    if stream is None or stream.total > MAX_PLAYLIST_BYTES:
        return None
    return _playlist(b"".join(stream.chunks))


def _playlist(body: bytes) -> Playlist:
    return Playlist(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@lru_cache(maxsize=256)
def _with_direct_segments(store: MediaStore, key: str, until: int, _minute: int) -> Playlist | None:
    playlist = _stored(store, key)
    if playlist is None:
        return None
    folder = key.rsplit("/", 1)[0]
    expires_in_s = until - int(time.time())  # noqa: TID251  (presigned URLs expire by the wall clock)
    lines = []
    for line in playlist.body.decode().splitlines():
        uri = line.strip()
        if uri and not uri.startswith("#") and not is_playlist(uri) and "/" not in uri:
            line = store.direct_url(f"{folder}/{uri}", expires_in_s) or line
        lines.append(line)
    return _playlist(("\n".join(lines) + "\n").encode())


PROGRAM_DATE_TIME = "#EXT-X-PROGRAM-DATE-TIME:"
_ATTRIBUTE_NAME = re.compile(r"[A-Z0-9-]+", re.ASCII)
# What a quoted-string may not hold (RFC 8216 4.2: CR, LF and the double quote), and what would fool a reader.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

AttributeValue = str | float | int | bytes


@dataclass(frozen=True)
class DateRange:
    """One EXT-X-DATERANGE of a VOD media playlist, placed by its offset from the film's first frame. Attribute
    values are written by type: text as a quoted-string (made safe by `quoted`), numbers as decimals, bytes as
    hexadecimal (SCTE-35 sections)."""

    id: str
    start_s: float
    attributes: tuple[tuple[str, AttributeValue], ...] = ()

    def line(self, start: datetime) -> str:
        """The tag, starting at `start`: the date the playlist gives the film's `start_s`."""
        parts = [f"ID={quoted(self.id)}", f"START-DATE={quoted(iso_date(start))}"]
        for name, value in self.attributes:
            if not _ATTRIBUTE_NAME.fullmatch(name):
                raise ValueError(f"not an attribute name: {name!r}")
            parts.append(f"{name}={_attribute(value)}")
        return "#EXT-X-DATERANGE:" + ",".join(parts)


def quoted(text: str) -> str:
    """`text` as an HLS quoted-string: a double quote becomes ” and line breaks and control characters a space, so
    no title can end the attribute or the line early; other Unicode is kept (playlists are UTF-8)."""
    safe = _UNSAFE.sub(" ", unicodedata.normalize("NFC", text)).replace('"', "\u201d")
    return '"' + safe + '"'


def _attribute(value: AttributeValue) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex().upper()
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, bool) or not float(value) >= 0:  # NaN, negatives: no decimal-floating-point
        raise ValueError(f"not a non-negative number: {value!r}")
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def iso_date(moment: datetime) -> str:
    """ISO 8601 with milliseconds and Z, as HLS dates are written."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Signals:
    """What a video's media playlists say besides their segments: the date of its first frame (a fixed anchor per
    video: players turn date ranges into media times through it) and its date ranges."""

    anchor: datetime
    date_ranges: tuple[DateRange, ...] = ()
    # The written lines and their digest per playlist timeline, made once: every poll of a playlist asks again.
    _written: dict[str, tuple[bytes, bytes]] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def written(self, timeline: str, dating: Callable[[], Callable[[float], datetime]]) -> tuple[bytes, bytes]:
        """The date ranges as playlist lines, each dated by the mapping `dating()` makes (a film second to the
        playlist's date), and a digest of them; kept under `timeline`, which names the mapping, so the mapping is
        made only the first time."""
        found = self._written.get(timeline)
        if found is None:
            date_of = dating()
            lines = "".join(r.line(date_of(r.start_s)) + "\n" for r in self.date_ranges).encode()
            found = self._written[timeline] = (lines, hashlib.sha256(lines).digest())
        return found


def with_signals(playlist: Playlist, signals: Signals) -> Playlist:
    """A finished media playlist with a program date time on its first segment and the date ranges after it; its
    ETag follows the stored playlist's and the signals'. A playlist that has its own dates (a live show's replay,
    dated segment by segment, with jumps where the show was interrupted) keeps them, and each range is dated by the
    segment its second falls in. Master playlists and live ones are returned as they are. Spliced as bytes: a film's
    playlist is 100 KiB and more."""
    body = playlist.body
    first_segment = body.find(b"\n#EXTINF") + 1
    if not first_segment or b"#EXT-X-ENDLIST" not in body:
        return playlist
    dated = body.find(b"\n" + PROGRAM_DATE_TIME.encode()) + 1
    if dated:
        at, prefix = body.index(b"\n", dated) + 1, b""
        lines, digest = signals.written(playlist.etag, lambda: _segment_dates(body))  # a replay's: parsed once
    else:
        anchor = signals.anchor
        at, prefix = first_segment, (PROGRAM_DATE_TIME + iso_date(anchor) + "\n").encode()
        lines, digest = signals.written("anchor", lambda: lambda second: anchor + timedelta(seconds=second))
    etag = hashlib.sha256(playlist.etag.encode() + prefix + digest).hexdigest()[:32]
    return Playlist(body[:at] + prefix + lines + body[at:], f'"{etag}"')


def _segment_dates(body: bytes) -> Callable[[float], datetime]:
    """A dated playlist's film second to its date: the date of the segment the second falls in, plus the time into
    that segment (a segment with no date of its own follows the one before it)."""
    starts: list[float] = []
    dates: list[datetime] = []
    elapsed, date, pending = 0.0, None, None
    for raw in body.decode().splitlines():
        line = raw.strip()
        if line.startswith(PROGRAM_DATE_TIME):
            pending = datetime.fromisoformat(line[len(PROGRAM_DATE_TIME) :])
        elif line.startswith("#EXTINF:"):
            length = float(line[len("#EXTINF:") :].split(",", 1)[0])
            if pending is not None:
                date = pending
            if date is not None:
                starts.append(elapsed)
                dates.append(date)
                date += timedelta(seconds=length)
            elapsed += length
            pending = None

    def date_of(second: float) -> datetime:
        index = max(bisect.bisect_right(starts, second) - 1, 0)
        return dates[index] + timedelta(seconds=second - starts[index])

    return date_of


class SignalsCache:
    """Each video's signals, fresh for the timeline's time-to-live: every player asks for each media playlist it
    plays, and the signals come from three tables. A tag, video or ad-settings change drops the copy. The links in
    them are absolute, so a copy serves only the site address it was made for."""

    topics: ClassVar[frozenset[Topic]] = frozenset({Topic.video, Topic.tags, Topic.campaigns})

    @classmethod
    def from_settings(cls, settings: Settings) -> SignalsCache:
        return cls(ttl_s=settings.timeline_cache_s)

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[int, tuple[float, str, Signals]] = {}
        self._lock = threading.Lock()

    def get_or_build(self, video_id: int, base_url: str, build: Callable[[], Signals]) -> Signals:
        entry = self._entries.get(video_id)
        if entry and entry[0] > time.monotonic() and entry[1] == base_url:
            return entry[2]
        signals = build()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # a burst of distinct videos: start again rather than scan
            self._entries[video_id] = (time.monotonic() + self.ttl_s, base_url, signals)
        return signals

    def forget(self, key: int | None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)


def anchor_of(created_at: datetime) -> datetime:
    """A video's fixed anchor: its upload's second, in UTC (never changes, so neither do its playlists' dates)."""
    return created_at.astimezone(UTC).replace(microsecond=0)


def date_ranges_of(ranges: Sequence[DateRange]) -> tuple[DateRange, ...]:
    """Date ranges in start order, the order players expect them in."""
    return tuple(sorted(ranges, key=lambda r: (r.start_s, r.id)))


# Subtitles ------------------------------------------------------------------------------------------------------------

SUBTITLES_GROUP = "subs"


@dataclass(frozen=True)
class SubtitleRendition:
    """One language's subtitles as a master playlist lists them (RFC 8216 4.3.4.1)."""

    language: str  # BCP 47
    name: str  # the language's own name, what a player's menu shows
    uri: str  # its media playlist


def with_subtitles(playlist: Playlist, renditions: Sequence[SubtitleRendition]) -> Playlist:
    """A master playlist with an `EXT-X-MEDIA:TYPE=SUBTITLES` per rendition (before the first variant) and every
    variant naming their group; its ETag follows the stored playlist's and the renditions'. As it is without any."""
    if not renditions:
        return playlist
    media = "".join(
        f"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID={quoted(SUBTITLES_GROUP)},NAME={quoted(r.name)},"
        f"LANGUAGE={quoted(r.language)},DEFAULT=NO,AUTOSELECT=YES,URI={quoted(r.uri)}\n"
        for r in renditions
    )
    lines = []
    for line in playlist.body.decode().splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            if media:
                lines.append(media.rstrip("\n"))
                media = ""
            line += f",SUBTITLES={quoted(SUBTITLES_GROUP)}"
        lines.append(line)
    body = ("\n".join(lines) + "\n").encode()
    return Playlist(body, '"' + hashlib.sha256(playlist.etag.encode() + body).hexdigest()[:32] + '"')


def subtitle_playlist(duration_s: float, uri: str) -> Playlist:
    """A subtitle rendition's media playlist: one WebVTT segment (`uri`) as long as the video."""
    body = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{max(1, math.ceil(duration_s))}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            f"#EXTINF:{duration_s:.3f},",
            uri,
            "#EXT-X-ENDLIST",
            "",
        ]
    )
    return _playlist(body.encode())
