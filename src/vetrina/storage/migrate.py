"""Copy a local media directory into object storage, resumably, checking every object's checksum.

S3 computes an object's ETag from the bytes it received: the MD5 of a one-part upload, or for a multipart one the
MD5 of the parts' MD5s and the part count. Uploading with known part sizes lets us compute the same value from the
local file, so a match proves the stored bytes are the local ones. Objects already there with the right ETag are
skipped, so an interrupted run picks up where it stopped."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vetrina.storage.local import LocalStore
from vetrina.storage.s3 import PART_SIZE, S3Store

_MAX_PARTS = 10_000


@dataclass
class MigrationReport:
    copied: int = 0
    already_there: int = 0
    bytes_copied: int = 0
    mismatched: list[str] = field(default_factory=list)


def expected_etag(path: Path) -> str:
    """The ETag S3 gives `path` uploaded as `S3Store` uploads it (parts of PART_SIZE above PART_SIZE bytes)."""
    size = path.stat().st_size
    if size < PART_SIZE:
        return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    part = PART_SIZE
    while math.ceil(size / part) > _MAX_PARTS:  # as boto3 widens parts for very large files
        part *= 2
    digests = []
    with path.open("rb") as handle:
        while chunk := handle.read(part):
            digests.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


def migrate(
    source: LocalStore, target: S3Store, on_object: Callable[[str, str], None] | None = None
) -> MigrationReport:
    """Copy every file of `source` into `target` that is not there yet with the same bytes; `on_object(key, what)`
    hears of each ("copied", "already there", "mismatch")."""
    report = MigrationReport()
    for found in source.list(""):
        path = source.path(found.key)
        wanted = expected_etag(path)
        if target.etag(found.key) == wanted:
            report.already_there += 1
            outcome = "already there"
        else:
            target.upload_copy(path, found.key)
            if target.etag(found.key) == wanted:
                report.copied += 1
                report.bytes_copied += found.size
                outcome = "copied"
            else:
                report.mismatched.append(found.key)
                outcome = "mismatch"
        if on_object is not None:
            on_object(found.key, outcome)
    return report
