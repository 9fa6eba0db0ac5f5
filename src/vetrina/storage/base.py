"""The one storage interface: media addressed by slash-separated keys, with work done in local scratch directories
and published into the store when finished (readers see a finished file or set, never a half-written one)."""

from __future__ import annotations

import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from vetrina.errors import VetrinaError
from vetrina.i18n import _
from vetrina.storage.signing import UrlSigner


class StorageUnavailable(VetrinaError):
    """The object store did not answer (down, or too slow): try again shortly; nothing was half-written."""

    status, slug, title = 503, "storage-unavailable", _("Storage unavailable")


class StorageMisconfigured(RuntimeError):
    """The configured store cannot be used at all (no such bucket, refused credentials): stop at start-up."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified_ts: float  # wall-clock seconds, as the store keeps it


@dataclass(frozen=True)
class ObjectStream:
    """Bytes of one stored object, for answering a request: `length` of them from `first`, of `total`."""

    chunks: Iterator[bytes]
    first: int
    length: int
    total: int


class MediaStore(UrlSigner, ABC):
    """Media by key. Work happens in `scratch_dir`s on this machine's disk (`work_root`), and finished files and
    sets go into the store with `put_file` and `publish_dir`."""

    def __init__(self, work_root: Path, signing_key: bytes, url_base: str = "") -> None:
        super().__init__(signing_key, url_base)
        self.work_root = work_root
        work_root.mkdir(parents=True, exist_ok=True)

    def scratch_dir(self, name: str) -> Path:
        """A private, empty working directory on this machine (for the local store, inside its volume, so
        publishing is a rename)."""
        path = self.work_root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def scratch_dirs(self, prefix: str) -> list[Path]:
        """The scratch directories whose names start with `prefix` (those of a crashed attempt, say)."""
        return sorted(self.work_root.glob(f"{prefix}*"))

    def clean_scratch(self, older_than_s: float) -> int:
        """Remove scratch entries left by crashed work (untouched for `older_than_s`); returns how many."""
        cutoff = time.time() - older_than_s  # noqa: TID251  (compared with file mtimes, which are wall-clock)
        removed = 0
        for entry in self.work_root.iterdir():
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def children(self, prefix: str) -> set[str]:
        """The names directly under `prefix` (files and "directories" alike)."""
        start = len(prefix) + 1
        return {found.key[start:].split("/", 1)[0] for found in self.list(prefix)}

    def describe(self) -> str:
        """Where the media are, for messages to the operator."""
        return type(self).__name__

    def check(self) -> None:
        """Raise StorageMisconfigured when the store cannot be used (checked once at start-up)."""

    has_direct_urls = False  # whether `direct_url` gives URLs

    def direct_url(self, key: str, expires_in_s: int) -> str | None:
        """A URL that reaches the file straight from the store, valid for `expires_in_s`, with no Vetrina process
        on the way (a presigned GET); None for a store that has none (the local directory)."""
        return None

    @abstractmethod
    def put_file(self, source: Path, key: str) -> None:
        """Store a finished file under `key` (the source file is moved or uploaded, then gone)."""

    @abstractmethod
    def publish_dir(self, source: Path, key: str, last: str | None = None) -> None:
        """Store a finished directory under `key`: readers see all of it or none. `last`: the file (relative to
        `source`) that makes the set visible to readers (an HLS ladder's master playlist), stored after the rest.
        FileExistsError when something is already stored under `key`. The source directory is gone afterwards."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the file `key`, or everything under it."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Is there a file `key`, or anything under it?"""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The file's size in bytes; None when there is no such file."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every file under `prefix`, at any depth."""

    @abstractmethod
    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """The file as a path on this machine's disk for the `with` block (a download for a remote store);
        FileNotFoundError when there is none."""

    def shared_copy(self, key: str) -> AbstractContextManager[Path]:
        """`local_copy`, kept on this machine's disk for the next work on the same file (the parts of one chunked
        transcode read one source): a remote store downloads it once per machine, not once per part."""
        return self.local_copy(key)

    @abstractmethod
    def open_stream(self, key: str, first: int = 0, last: int | None = None) -> ObjectStream | None:
        """Bytes `first`..`last` (inclusive; to the end by default) of the file, streamed; None when there is none."""
