"""MediaStore: where media files live, and the signed, expiring URLs that reach them.

A signed URL covers a whole directory ("scope") rather than one file, so an HLS playlist's relative
segment URLs inherit its signature: `/media/{expires}.{depth}.{signature}/{key}` where the scope is
the first `depth` path parts of `key`. A CDN can verify the same token at its edge.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import time
from pathlib import Path

MEDIA_URL_PREFIX = "/media"
_EXPIRY_BUCKET_S = 3600


class InvalidKey(ValueError):
    """A storage key that could escape the store or name nothing."""


def _key_parts(key: str) -> tuple[str, ...]:
    parts = tuple(key.split("/"))
    if any(p in ("..", ".", "") for p in parts) or "\\" in key or "\0" in key:
        raise InvalidKey(f"invalid media key {key!r}")
    return parts


class MediaStore:
    """Media in a local directory (the embedded default), addressed by slash-separated keys."""

    def __init__(self, root: Path, signing_key: bytes) -> None:
        self.root = root
        self._signing_key = signing_key
        root.mkdir(parents=True, exist_ok=True)

    @property
    def signing_key(self) -> bytes:
        """The deployment's secret, also what signs served-ad tokens."""
        return self._signing_key

    def path(self, key: str) -> Path:
        return self.root.joinpath(*_key_parts(key))

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def scratch_dir(self, name: str) -> Path:
        """A private working directory inside the store's volume, so publishing is a rename."""
        path = self.root / ".work" / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def clean_scratch(self, older_than_s: float) -> int:
        """Remove scratch entries left by crashed work (untouched for `older_than_s`); returns how many."""
        work = self.root / ".work"
        if not work.is_dir():
            return 0
        cutoff = time.time() - older_than_s  # noqa: TID251  (compared with file mtimes, which are wall-clock)
        removed = 0
        for entry in work.iterdir():
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def put_file(self, source: Path, key: str) -> None:
        """Move a finished file into place atomically."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def publish_dir(self, source: Path, key: str) -> None:
        """Move a finished directory into place in one rename: readers see all of it or none."""
        target = self.path(key)
        if target.exists():
            raise FileExistsError(f"{key} is already published")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)

    def delete(self, key: str) -> None:
        path = self.path(key)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def _signature(self, scope: str, expires: int, territory: str) -> str:
        message = f"{expires}:{scope}:{territory}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()[:32]

    def signed_url(self, scope: str, name: str, now_ts: float, ttl_s: int, territory: str = "") -> str:
        """A URL for `scope/name`, valid for at least `ttl_s` and stable within an hour (cacheable); with a
        `territory`, valid only for viewers there (a licensed title's link copied abroad does not play)."""
        depth = len(_key_parts(scope))
        expires = int(now_ts // _EXPIRY_BUCKET_S) * _EXPIRY_BUCKET_S + ttl_s + _EXPIRY_BUCKET_S
        token = f"{expires}.{depth}.{territory or '-'}.{self._signature(scope, expires, territory)}"
        return f"{MEDIA_URL_PREFIX}/{token}/{scope}/{name}"

    def verify(self, token: str, key: str, now_ts: float) -> tuple[int, str] | None:
        """The seconds left on `token` for `key` and the territory it is bound to ("" for none), or None when
        it is forged, malformed or expired."""
        try:
            expires_s, depth_s, territory, signature = token.split(".")
            expires, depth = int(expires_s), int(depth_s)
            parts = _key_parts(key)
        except (ValueError, InvalidKey):
            return None
        territory = "" if territory == "-" else territory
        if depth < 1 or depth >= len(parts) or expires <= now_ts:
            return None
        scope = "/".join(parts[:depth])
        if not hmac.compare_digest(signature, self._signature(scope, expires, territory)):
            return None
        return int(expires - now_ts), territory
