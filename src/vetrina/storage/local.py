"""Media in a local directory: the embedded default. Publishing is a rename inside one volume."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from vetrina.storage.base import MediaStore, ObjectStream, StoredObject
from vetrina.storage.signing import key_parts

_CHUNK = 256 * 1024


class LocalStore(MediaStore):
    def __init__(self, root: Path, signing_key: bytes, url_base: str = "") -> None:
        super().__init__(root / ".work", signing_key, url_base)
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def path(self, key: str) -> Path:
        """Where the file `key` lives on this disk (the local store only: the web layer serves it with sendfile)."""
        return self.root.joinpath(*key_parts(key))

    def put_file(self, source: Path, key: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def publish_dir(self, source: Path, key: str, last: str | None = None) -> None:
        target = self.path(key)  # one rename: `last` needs no order here
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

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def size(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def list(self, prefix: str) -> Iterator[StoredObject]:
        base = self.path(prefix) if prefix else self.root
        for path in sorted(base.rglob("*")) if base.is_dir() else ():
            if path.is_file() and not path.is_relative_to(self.work_root):
                stat = path.stat()
                yield StoredObject(path.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime)

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return nullcontext(path)

    def open_stream(self, key: str, first: int = 0, last: int | None = None) -> ObjectStream | None:
        path = self.path(key)
        if not path.is_file():
            return None
        total = path.stat().st_size
        end = total - 1 if last is None else min(last, total - 1)
        return ObjectStream(_read(path, first, end - first + 1), first, max(end - first + 1, 0), total)


def _read(path: Path, first: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(first)
        while length > 0:
            chunk = handle.read(min(_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
