"""What the rest of Vetrina asks of the media domain: add, find, change and remove videos."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.context import Context, Topic
from vetrina.db import after_commit, on_rollback
from vetrina.errors import Forbidden, NotFound
from vetrina.i18n import _
from vetrina.media.ladder import MASTER_PLAYLIST, POSTER, THUMBS_VTT
from vetrina.media.models import Video, VideoStatus
from vetrina.media.probe import probe_video
from vetrina.media.transcode import TRANSCODE_JOB, output_prefix
from vetrina.storage import Covers
from vetrina.text import clean_text

UPLOADER_ROLES = (Role.merchant, Role.partner, Role.admin)
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
_SOURCE_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".ts", ".mpg", ".mpeg", ".flv", ".3gp"}


def ensure_can_upload(user: User) -> None:
    if user.role not in UPLOADER_ROLES:
        raise Forbidden(_("Only merchants, partners and admins upload videos."))


def create_video(
    ctx: Context,
    session: Session,
    owner: User,
    *,
    title: str,
    description: str,
    upload: Path,
    filename: str,
) -> Video:
    """Validate an uploaded file, record the video and queue its transcode (once the row is committed).

    `upload` is moved into the store; on any error it is removed, so nothing is left behind.
    """
    try:
        ensure_can_upload(owner)
        title = clean_text(title, "title", MAX_TITLE, required=True)
        description = clean_text(description, "description", MAX_DESCRIPTION, required=False)
        probe = probe_video(upload, ctx.settings.max_duration_s)
    except Exception:
        upload.unlink(missing_ok=True)
        raise
    video = Video(
        owner_id=owner.id,
        title=title,
        description=description,
        status=VideoStatus.processing.value,
        progress=0.0,
        duration_s=probe.duration_s,
        width=probe.width,
        height=probe.height,
        frame_rate=probe.frame_rate,
        has_audio=probe.has_audio,
        renditions=[],
        allow_merchant_tags=False,
        created_at=clock.now(),
    )
    session.add(video)
    session.flush()
    suffix = Path(filename).suffix.lower()
    key = f"{output_prefix(video.id)}/source{suffix if suffix in _SOURCE_SUFFIXES else '.bin'}"
    on_rollback(session, lambda: ctx.store.delete(output_prefix(video.id)))
    ctx.store.put_file(upload, key)
    video.source_key = key
    ctx.queue.enqueue_after_commit(session, TRANSCODE_JOB, video.id)
    return video


def _can_manage(user: User | None, video: Video) -> bool:
    return user is not None and (user.id == video.owner_id or user.role == Role.admin)


def get_video(session: Session, video_id: int, viewer: User | None) -> Video:
    """A video the viewer may see: ready and published, or their own (or any, for an admin)."""
    video = session.get(Video, video_id)
    if video is None or not (_is_public(video) or _can_manage(viewer, video)):
        raise NotFound(_("There is no video {video_id}.", video_id=video_id))
    return video


def _is_public(video: Video) -> bool:
    return video.status == VideoStatus.ready and video.published


def video_for_change(session: Session, video_id: int, user: User) -> Video:
    """A video `user` may change; others' videos answer 403 when visible and 404 when not."""
    video = get_video(session, video_id, user)
    if not _can_manage(user, video):
        raise Forbidden(_("Only the video's owner can change it."))
    return video


@dataclass
class Page:
    items: list[Video]
    total: int
    page: int
    per_page: int


def list_videos(
    session: Session,
    page: int,
    per_page: int,
    owner: User | None = None,
    published_by: int | None = None,
    shown_if: ColumnElement[bool] | None = None,
) -> Page:
    """Published ready videos (of user `published_by` only, and meeting `shown_if`, if given), newest first;
    or all of `owner`'s."""
    if owner is not None:
        where = [Video.owner_id == owner.id]
    else:
        where = [Video.status == VideoStatus.ready.value, Video.published.is_(True)]
        if published_by is not None:
            where.append(Video.owner_id == published_by)
        if shown_if is not None:
            where.append(shown_if)
    total = session.scalar(select(func.count()).select_from(Video).where(*where)) or 0
    rows = session.scalars(
        select(Video)
        .where(*where)
        .order_by(Video.created_at.desc(), Video.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(items=list(rows), total=total, page=page, per_page=per_page)


def update_video(ctx: Context, session: Session, video_id: int, user: User, changes: dict[str, Any]) -> Video:
    """Change a video's title, description or published flag."""
    video = video_for_change(session, video_id, user)
    if "title" in changes:
        video.title = clean_text(changes["title"], "title", MAX_TITLE, required=True)
    if "description" in changes:
        video.description = clean_text(changes["description"], "description", MAX_DESCRIPTION, required=False)
    if "published" in changes:
        video.published = bool(changes["published"])
    if "allow_merchant_tags" in changes:
        video.allow_merchant_tags = bool(changes["allow_merchant_tags"])
    ctx.caches.forget_after_commit(session, Topic.video, video.id)
    return video


def describe_video(ctx: Context, session: Session, video_id: int, *, title: str, description: str) -> bool:
    """Set a video's title and description as the one who supplies it now gives them (a partner's feed: no
    user's permission is asked), cut to the limits; False if the video has been deleted."""
    video = session.get(Video, video_id)
    if video is None:
        return False
    video.title, video.description = title[:MAX_TITLE], description[:MAX_DESCRIPTION]
    ctx.caches.forget_after_commit(session, Topic.video, video_id)
    return True


def set_published(ctx: Context, session: Session, video_ids: Collection[int], published: bool) -> None:
    """Publish or withdraw these videos for the one who supplies them (a partner's feed listing or dropping
    titles, a title licensed nowhere); no user's permission is asked, and deleted ones are skipped."""
    if video_ids:
        session.execute(update(Video).where(Video.id.in_(video_ids)).values(published=published))
        for video_id in video_ids:
            ctx.caches.forget_after_commit(session, Topic.video, video_id)


def delete_video(ctx: Context, session: Session, video_id: int, user: User) -> None:
    """Remove a video; its files go once the deletion has committed."""
    video = video_for_change(session, video_id, user)
    # Its own prefix, and its ladder wherever that was made (a live show's replay plays from the show's HLS).
    prefixes = {output_prefix(video_id), video.output_key or output_prefix(video_id)}
    session.delete(video)

    def remove_files() -> None:
        for prefix in prefixes:
            ctx.store.delete(prefix)

    after_commit(session, remove_files)
    ctx.caches.forget_after_commit(session, Topic.video, video_id)


def video_of_key(key: str) -> int | None:
    """The video a media key belongs to (`videos/{id}/…`); None for any other key."""
    parts = key.split("/", 2)
    return int(parts[1]) if len(parts) == 3 and parts[0] == "videos" and parts[1].isdigit() else None


def video_media_urls(ctx: Context, video: Video, territory: str = "") -> dict[str, str | None]:
    """Signed URLs of the video's playlist (covering its rendition set), poster (that file alone) and seek
    thumbnails (their track and images); None until it is ready; bound to `territory` when given."""
    output_key = video.output_key
    if video.status != VideoStatus.ready or not output_key:
        return {"hls_url": None, "poster_url": None, "thumbnails_url": None}
    now_ts = clock.now().timestamp()

    def url(name: str, covers: Covers) -> str:
        return ctx.store.signed_url(output_key, name, now_ts, ctx.settings.media_url_ttl_s, territory, covers)

    return {
        "hls_url": url(MASTER_PLAYLIST, Covers.hls),
        "poster_url": url(POSTER, Covers.file),
        "thumbnails_url": url(THUMBS_VTT, Covers.thumbnails),
    }


def videos_since(ctx: Context, session: Session, owner_id: int, since: datetime) -> tuple[int, datetime | None, int]:
    """The videos `owner_id` has made since `since` (uploaded, rendered or imported): how many, when the oldest
    was made, and the bytes their sources take in the store; what the upload quotas count."""
    rows = session.execute(
        select(Video.source_key, Video.created_at).where(Video.owner_id == owner_id, Video.created_at >= since)
    ).all()
    stored = 0
    for key, _created_at in rows:
        # A source already removed (the video deleted meanwhile) takes no room.
        if key is not None:
            stored += ctx.store.size(key) or 0
    return len(rows), min((created_at for _key, created_at in rows), default=None), stored


def processing_count(session: Session, owner_id: int) -> int:
    """How many of `owner_id`'s videos are waiting for or in their transcode."""
    query = select(func.count()).where(Video.owner_id == owner_id, Video.status == VideoStatus.processing.value)
    return session.scalar(query) or 0
