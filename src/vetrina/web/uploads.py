"""Taking an uploaded file off the request into the media store's scratch space, within the size limit."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.errors import InvalidInput, PayloadTooLarge
from vetrina.media import service as media
from vetrina.media.models import Video

_CHUNK = 1024 * 1024
# Multipart framing and the other form fields ride in the same body as the file.
MULTIPART_OVERHEAD = 1024 * 1024


def add_uploaded_video(
    ctx: Context, session: Session, user: User, upload: UploadFile | None, title: str, description: str
) -> Video:
    """Take a video upload off the request and hand it to the media domain; nothing is left behind on error."""
    media.ensure_can_upload(user)
    upload, filename = chosen_upload(upload)
    with saved_upload(ctx, upload, ctx.settings.max_upload_bytes) as path:
        return media.create_video(
            ctx, session, user, title=title, description=description, upload=path, filename=filename
        )


def chosen_upload(upload: UploadFile | None) -> tuple[UploadFile, str]:
    """The upload and the name it was sent under; InvalidInput when no file was chosen."""
    if upload is None or not upload.filename:
        raise InvalidInput("Choose a file to upload.", field="file")
    return upload, upload.filename


@contextmanager
def saved_upload(ctx: Context, upload: UploadFile | None, limit: int) -> Iterator[Path]:
    """The upload copied into the store's volume (so it can be moved, not copied again), removed afterwards."""
    upload, _filename = chosen_upload(upload)
    target = ctx.store.scratch_dir(f"upload-{secrets.token_hex(8)}") / "source"
    try:
        written = 0
        with target.open("wb") as out:
            while chunk := upload.file.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise PayloadTooLarge(f"The file is larger than the {limit} byte limit.", max_bytes=limit)
                out.write(chunk)
        if written == 0:
            raise InvalidInput("The uploaded file is empty.", field="file")
        yield target
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)
