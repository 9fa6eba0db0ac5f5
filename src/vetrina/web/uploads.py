"""Taking an uploaded file off the request into the media store's scratch space, within the size limit."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from fastapi import UploadFile

from vetrina.errors import InvalidInput, PayloadTooLarge
from vetrina.runtime import Runtime

_CHUNK = 1024 * 1024
# Multipart framing and the other form fields ride in the same body as the file.
MULTIPART_OVERHEAD = 1024 * 1024


def save_upload(runtime: Runtime, upload: UploadFile | None) -> Path:
    """Copy the upload into the store's volume (so it can later be moved, not copied); enforce the limit."""
    if upload is None or not upload.filename:
        raise InvalidInput("Choose a video file to upload.", field="file")
    limit = runtime.settings.max_upload_bytes
    target = runtime.store.scratch_dir(f"upload-{secrets.token_hex(8)}") / "source"
    written = 0
    try:
        with target.open("wb") as out:
            while chunk := upload.file.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise PayloadTooLarge(f"The file is larger than the {limit} byte limit.", max_bytes=limit)
                out.write(chunk)
        if written == 0:
            raise InvalidInput("The uploaded file is empty.", field="file")
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return target


def discard_upload(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)
