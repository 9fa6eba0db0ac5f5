"""Where media live: one interface (`MediaStore`), a local directory (the embedded default) or S3-compatible object
storage (`VETRINA_STORAGE_URL=s3://bucket/prefix`), and the signed, expiring URLs that reach them."""

from __future__ import annotations

from vetrina.settings import Settings
from vetrina.storage.base import MediaStore, ObjectStream, StorageMisconfigured, StorageUnavailable, StoredObject
from vetrina.storage.local import LocalStore
from vetrina.storage.signing import MEDIA_URL_PREFIX, Covers, InvalidKey, absolute_url, key_parts, media_type

__all__ = [
    "MEDIA_URL_PREFIX",
    "Covers",
    "InvalidKey",
    "LocalStore",
    "MediaStore",
    "ObjectStream",
    "StorageMisconfigured",
    "StorageUnavailable",
    "StoredObject",
    "absolute_url",
    "key_parts",
    "media_type",
    "open_store",
]


def open_store(settings: Settings) -> MediaStore:
    """The store VETRINA_STORAGE_URL names (`s3://bucket/prefix`), else the local directory in the data dir."""
    if settings.storage_url:
        from vetrina.storage.s3 import S3Store  # boto3 is loaded only by deployments that use it

        return S3Store.from_url(
            settings.storage_url,
            settings.data_dir / "work",
            settings.signing_key,
            settings.s3_endpoint_url,
            settings.edge_url,
        )
    return LocalStore(settings.media_dir, settings.signing_key, settings.edge_url)
