"""The signed, expiring URLs that reach stored media.

A signed URL is `/media/{expires}.{depth}.{territory}.{covers}.{signature}/{key}`: the scope is the first `depth`
path parts of `key`, and what the token `covers` inside it is signed with it. An HLS token covers the rendition set
(the master playlist, the variant playlists, their segments and keys), so the playlists' relative URLs inherit it;
a thumbnails token covers the seek-preview track and its images; any other token covers its one file. A poster's
token with the file name changed therefore unlocks nothing else. A CDN can verify the same token at its edge.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import mimetypes
import re

MEDIA_URL_PREFIX = "/media"
_EXPIRY_BUCKET_S = 3600


class Covers(enum.StrEnum):
    """What a signed URL unlocks inside its scope."""

    file = "f"  # the one file it names
    hls = "h"  # an HLS rendition set: master playlist, variant playlists, segments, keys
    thumbnails = "t"  # the seek-preview track and its images


# The files each set-wide token may reach, relative to its scope (the layout media/ladder.py writes).
_SET_FILES = {
    Covers.hls: re.compile(r"master\.m3u8|[\w-]+/(index\.m3u8|seg_\d+\.(ts|m4s|aac)|init\.mp4|[\w-]+\.key)", re.ASCII),
    Covers.thumbnails: re.compile(r"thumbs/(thumbs\.vtt|thumb_\d+\.jpg)", re.ASCII),
}


# What each media file is, for the store's objects and the answers that serve them (the platform's own mimetypes
# table may call .ts Qt translations).
MEDIA_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".key": "application/octet-stream",
}


def absolute_url(base_url: str, url: str) -> str:
    """A link of ours for a page or player elsewhere: `url` as is when already absolute (media on an edge, at
    VETRINA_EDGE_URL), else on `base_url`."""
    return url if url.startswith(("http://", "https://")) else base_url + url


def media_type(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


class InvalidKey(ValueError):
    """A storage key that could escape the store or name nothing."""


def key_parts(key: str) -> tuple[str, ...]:
    """The slash-separated parts of a storage key; InvalidKey for one that could escape the store or names nothing."""
    parts = tuple(key.split("/"))
    if any(p in ("..", ".", "") for p in parts) or "\\" in key or "\0" in key:
        raise InvalidKey(f"invalid media key {key!r}")
    return parts


class UrlSigner:
    """Signs and checks media URLs with the deployment's secret (every store is one)."""

    def __init__(self, signing_key: bytes, url_base: str = "") -> None:
        self._signing_key = signing_key
        self.url_base = url_base  # the edge's origin (VETRINA_EDGE_URL): links are absolute there; "" for ours

    @property
    def signing_key(self) -> bytes:
        """The deployment's secret, also what signs served-ad tokens."""
        return self._signing_key

    def _signature(self, scope: str, expires: int, territory: str, covers: Covers, name: str) -> str:
        # A one-file token signs its file's name; a set-wide one signs what set it covers.
        covered = name if covers == Covers.file else covers.value
        message = f"{expires}:{scope}:{territory}:{covers.value}:{covered}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()[:32]

    def signed_url(
        self, scope: str, name: str, now_ts: float, ttl_s: int, territory: str = "", covers: Covers = Covers.file
    ) -> str:
        """A URL for `scope/name` that unlocks what `covers` says (by default that file alone), valid for at least
        `ttl_s` and stable within an hour (cacheable); with a `territory`, valid only for viewers there (a
        licensed title's link copied abroad does not play)."""
        depth = len(key_parts(scope))
        if covers != Covers.file and not _SET_FILES[covers].fullmatch(name):
            raise InvalidKey(f"{name!r} is not part of what a {covers.name} token covers")
        expires = int(now_ts // _EXPIRY_BUCKET_S) * _EXPIRY_BUCKET_S + ttl_s + _EXPIRY_BUCKET_S
        signature = self._signature(scope, expires, territory, covers, name)
        token = f"{expires}.{depth}.{territory or '-'}.{covers.value}.{signature}"
        return f"{self.url_base}{MEDIA_URL_PREFIX}/{token}/{scope}/{name}"

    def verify(self, token: str, key: str, now_ts: float) -> tuple[int, str] | None:
        """The seconds left on `token` for `key` and the territory it is bound to ("" for none), or None when
        it is forged, malformed, expired, or does not cover `key`."""
        try:
            expires_s, depth_s, territory, covers_s, signature = token.split(".")
            expires, depth, covers = int(expires_s), int(depth_s), Covers(covers_s)
            parts = key_parts(key)
        except (ValueError, InvalidKey):
            return None
        territory = "" if territory == "-" else territory
        if depth < 1 or depth >= len(parts) or expires <= now_ts:
            return None
        scope, name = "/".join(parts[:depth]), "/".join(parts[depth:])
        if covers != Covers.file and not _SET_FILES[covers].fullmatch(name):
            return None
        if not signature.isascii() or not hmac.compare_digest(
            signature, self._signature(scope, expires, territory, covers, name)
        ):
            return None
        return int(expires - now_ts), territory
