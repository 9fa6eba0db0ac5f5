"""HLS playlists as Vetrina serves them. Segments are immutable objects; playlists are answered by Vetrina itself,
small, with an ETag and a short max-age, so what a video's playlists say (its tags, subtitles and ads, in later
work) can change without re-encoding. Today the answer is the stored playlist as the transcode wrote it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from vetrina.storage import MediaStore

# How long a player or cache may keep a playlist before asking again (then, usually, a 304).
PLAYLIST_MAX_AGE_S = 10
MAX_PLAYLIST_BYTES = 4 * 1024**2  # a feature film's media playlist is tens of kilobytes


def is_playlist(key: str) -> bool:
    return key.endswith(".m3u8")


@dataclass(frozen=True)
class Playlist:
    body: bytes
    etag: str  # a strong validator, quoted as HTTP writes it


def rendered(store: MediaStore, key: str) -> Playlist | None:
    """The playlist at `key` as Vetrina serves it; None when there is none."""
    stream = store.open_stream(key)
    if stream is None or stream.total > MAX_PLAYLIST_BYTES:
        return None
    body = b"".join(stream.chunks)
    return Playlist(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
