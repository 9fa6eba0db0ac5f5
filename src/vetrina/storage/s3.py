"""Media in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, Cloudflare R2, ...) through boto3.

`s3://bucket/prefix` names the place; `VETRINA_S3_ENDPOINT_URL` the service when it is not AWS; region and
credentials come from boto3's usual sources (AWS_* variables, ~/.aws, an instance role). Files go up with
multipart upload in `PART_SIZE` parts, streamed from disk (never whole in memory). A published set's `last` file goes
up after all the others, so a reader who finds it finds everything it names."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vetrina.i18n import _
from vetrina.storage.base import MediaStore, ObjectStream, StorageMisconfigured, StorageUnavailable, StoredObject
from vetrina.storage.signing import key_parts, media_type

PART_SIZE = 8 * 1024**2
TRANSFER = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=4)
_CHUNK = 256 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}
_DOWN = _("The media store is not answering; try again shortly.")
T = TypeVar("T")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def parse_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` as (bucket, prefix); ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{url!r} is not a storage URL like s3://bucket/prefix")
    prefix = parts.path.strip("/")
    if prefix:
        key_parts(prefix)
    return parts.netloc, prefix


def s3_client(endpoint_url: str | None) -> Any:
    # Bounded retries and timeouts: a store that is down answers 503 soon, it does not hang a request.
    # Checksums only where S3 requires them: boto3's newer defaults break MinIO, Ceph RGW and other S3-compatibles.
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=20,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        signature_version="s3v4",  # presigned URLs too (botocore presigns with the retired SigV2 otherwise)
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, config=config)


_PRESIGN_MAX_S = 7 * 86400
# Sources kept for the next part of a chunked transcode; gone once no part has read them for an hour.
_KEPT_PREFIX = "kept-"
_KEPT_IDLE_S = 3600


class S3Store(MediaStore):
    def __init__(
        self, bucket: str, prefix: str, client: Any, work_root: Path, signing_key: bytes, url_base: str = ""
    ) -> None:
        super().__init__(work_root, signing_key, url_base)
        self.bucket, self.prefix, self.client = bucket, prefix, client

    @classmethod
    def from_url(
        cls, url: str, work_root: Path, signing_key: bytes, endpoint_url: str | None, url_base: str = ""
    ) -> S3Store:
        bucket, prefix = parse_url(url)
        return cls(bucket, prefix, s3_client(endpoint_url), work_root, signing_key, url_base)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def object_name(self, key: str) -> str:
        """The object's name in the bucket; "" names the store's whole prefix."""
        if not key:
            return self.prefix
        key_parts(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = _code(exc)
            status = _status(exc)
            if code in _MISSING | {"NoSuchBucket"}:
                reason = "does not exist"
            elif status >= 500:
                reason = f"could not be checked: the store answered {status}"
            else:
                reason = f"refused the credentials ({code})"
            raise StorageMisconfigured(
                f"The bucket {self.bucket!r} {reason}: check VETRINA_STORAGE_URL, "
                "VETRINA_S3_ENDPOINT_URL and the AWS credentials."
            ) from None
        except BotoCoreError as exc:
            raise StorageMisconfigured(f"The object store for {self.describe()} cannot be reached: {exc}") from None

    has_direct_urls = True

    def direct_url(self, key: str, expires_in_s: int) -> str | None:
        # Signed here, without a request; SigV4 allows at most a week.
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.object_name(key)},
                ExpiresIn=max(1, min(expires_in_s, _PRESIGN_MAX_S)),
            )
        )

    def _call(self, action: Callable[[], T]) -> T:
        """Run one request; the store being down or failing is a 503 to retry, never a 500."""
        try:
            return action()
        except ClientError as exc:
            status = _status(exc)
            if status >= 500 or status == 0:
                raise StorageUnavailable(_DOWN, retry_after_s=5) from exc
            raise
        except BotoCoreError as exc:
            raise StorageUnavailable(_DOWN, retry_after_s=5) from exc

    def _upload(self, path: Path, key: str) -> None:
        content_type = media_type(path.name)
        self._call(
            lambda: self.client.upload_file(
                str(path), self.bucket, self.object_name(key), ExtraArgs={"ContentType": content_type}, Config=TRANSFER
            )
        )

    def put_file(self, source: Path, key: str) -> None:
        self._upload(source, key)
        source.unlink(missing_ok=True)

    def upload_copy(self, source: Path, key: str) -> None:
        """Store a copy of `source` (which stays), as `put_file` would store it."""
        self._upload(source, key)

    def etag(self, key: str) -> str | None:
        """The stored object's ETag, unquoted; None when there is none."""
        head = self._head(key)
        return None if head is None else str(head["ETag"]).strip('"')

    def publish_dir(self, source: Path, key: str, last: str | None = None) -> None:
        if self.exists(key):
            raise FileExistsError(f"{key} is already published")
        files = sorted(p for p in source.rglob("*") if p.is_file())
        final = [p for p in files if last is not None and p.relative_to(source).as_posix() == last]
        for path in [p for p in files if p not in final] + final:
            self._upload(path, f"{key}/{path.relative_to(source).as_posix()}")
        shutil.rmtree(source, ignore_errors=True)

    def delete(self, key: str) -> None:
        key_parts(key)  # never "": that would be the whole store
        name = self.object_name(key)
        self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=name))
        batch: list[dict[str, str]] = []
        for found in self.list(key):
            batch.append({"Key": self.object_name(found.key)})
            if len(batch) == 1000:  # the most one DeleteObjects takes
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        self._call(lambda: self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}))

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=self.object_name(key)))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise

    def exists(self, key: str) -> bool:
        if self._head(key) is not None:
            return True
        prefix = self.object_name(key) + "/"
        listed = self._call(lambda: self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1))
        return bool(listed.get("KeyCount"))

    def size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def list(self, prefix: str) -> Iterator[StoredObject]:
        name = self.object_name(prefix)
        name = f"{name}/" if name else ""
        skip = len(self.prefix) + 1 if self.prefix else 0
        pages = iter(self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=name))
        while (page := self._call(lambda: next(pages, None))) is not None:
            for item in page.get("Contents", []):
                yield StoredObject(item["Key"][skip:], int(item["Size"]), item["LastModified"].timestamp())

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        directory = Path(tempfile.mkdtemp(prefix="copy-", dir=self.work_root))
        target = directory / key_parts(key)[-1]
        try:
            try:
                self._call(
                    lambda: self.client.download_file(self.bucket, self.object_name(key), str(target), Config=TRANSFER)
                )
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    raise FileNotFoundError(key) from None
                raise
            yield target
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    @contextmanager
    def shared_copy(self, key: str) -> Iterator[Path]:
        digest = hashlib.sha256(self.object_name(key).encode()).hexdigest()[:24]
        kept = self.work_root / f"{_KEPT_PREFIX}{digest}{Path(key).suffix}"
        now = time.time()  # noqa: TID251  (compared with file mtimes, which are wall-clock)
        for other in self.work_root.glob(f"{_KEPT_PREFIX}*"):
            try:
                if other != kept and other.stat().st_mtime < now - _KEPT_IDLE_S:
                    other.unlink()
            except FileNotFoundError:
                pass  # another worker on this machine dropped it first
        try:
            os.utime(kept)  # in use again: not idle for another hour
        except FileNotFoundError:  # not here yet, or dropped as idle a moment ago
            with self.local_copy(key) as downloaded:
                os.replace(downloaded, kept)  # whole or not at all (a second thread's copy simply replaces it)
        yield kept

    def open_stream(self, key: str, first: int = 0, last: int | None = None) -> ObjectStream | None:
        wanted = f"bytes={first}-{'' if last is None else last}"
        try:
            answer = self._call(
                lambda: self.client.get_object(Bucket=self.bucket, Key=self.object_name(key), Range=wanted)
            )
        except ClientError as exc:
            code = _code(exc)
            if code in _MISSING:
                return None
            if code == "InvalidRange":
                size = self.size(key) or 0
                return ObjectStream(iter(()), first, 0, size)
            raise
        length = int(answer["ContentLength"])
        content_range = answer.get("ContentRange")  # "bytes 0-99/1234"
        total = int(content_range.rsplit("/", 1)[1]) if content_range else length
        return ObjectStream(answer["Body"].iter_chunks(_CHUNK), first, length, total)
