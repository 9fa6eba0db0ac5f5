"""HLS playlists as Vetrina serves them. Segments are immutable objects; playlists are answered by Vetrina itself,
small, with an ETag and a short max-age, so what a video's playlists say (its tags, subtitles and ads, in later
work) can change without re-encoding. Today the answer is the stored playlist as the transcode wrote it, with its
segments' URLs pointing straight into the object store when the title may play anywhere and no edge is configured."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache

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
