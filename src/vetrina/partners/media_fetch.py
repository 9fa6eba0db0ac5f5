"""Fetching the media of a feed's new titles (with `netguard.fetch`'s protections, or from files beside a local
feed) and handing each to the media pipeline as a video, one item at a time."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select, update

from vetrina import netguard
from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.errors import Busy, VetrinaError
from vetrina.i18n import _, clipped
from vetrina.jobs import job
from vetrina.media import service as media
from vetrina.partners.models import FeedItem, MediaStatus, PartnerFeed
from vetrina.partners.restrictions import apply_restriction
from vetrina.partners.subtitles import import_feed_subtitles

MEDIA_JOB = "partners.fetch_media"
MEDIA_TYPES = ("video/", "application/octet-stream")


@contextlib.contextmanager
def _own_scratch(ctx: Context, name: str) -> Iterator[Path]:
    """A working directory of this fetch's alone (`scratch_dir` empties one of the same name, and fetches of
    one feed may go on at once), removed afterwards."""
    path = ctx.store.scratch_dir(f"{name}-{secrets.token_hex(6)}")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pending_media(ctx: Context, feed_id: int) -> int:
    """How many of the feed's titles wait for their media."""
    with ctx.db.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(FeedItem)
                .where(
                    FeedItem.feed_id == feed_id,
                    FeedItem.media_status == MediaStatus.pending.value,
                    FeedItem.removed.is_(False),
                )
            )
            or 0
        )


def fetch_media(
    ctx: Context, feed_id: int, limit: int | None = None, on_item: Callable[[FeedItem], None] | None = None
) -> int:
    """Fetch and hand to the transcoder the media of the feed's pending items, one at a time; returns how many
    became videos. An item whose media fails is marked failed with the reason, and the rest go on."""
    made = 0
    while limit is None or made < limit:
        with ctx.db.session(write=True) as session:
            item = session.scalar(
                select(FeedItem)
                .where(
                    FeedItem.feed_id == feed_id,
                    FeedItem.media_status == MediaStatus.pending.value,
                    FeedItem.removed.is_(False),
                )
                .order_by(FeedItem.id)
                .limit(1)
            )
            if item is None:
                return made
            item_id, url, known_video = item.id, item.media_url, item.video_id
        ok = _fetch_one(ctx, feed_id, item_id, url, known_video)
        made += ok
        if on_item is not None:
            with ctx.db.session() as session:
                row = session.get(FeedItem, item_id)
                if row is not None:  # else deleted (with its feed) meanwhile
                    on_item(row)
    return made


def _fetch_one(ctx: Context, feed_id: int, item_id: int, url: str, known_video: int | None) -> bool:
    with _own_scratch(ctx, f"feed-media-{item_id}") as scratch:
        return _fetch_into(ctx, scratch, feed_id, item_id, url, known_video)


def _fetch_into(ctx: Context, scratch: Path, feed_id: int, item_id: int, url: str, known_video: int | None) -> bool:
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".media", delete=False) as file:
        upload = Path(file.name)
        try:
            if url.startswith("file:"):
                source = Path(urlsplit(url).path)
                if source.stat().st_size > ctx.settings.feed_media_max_bytes:
                    raise netguard.FetchError(_("The file is larger than the media limit."))
                with source.open("rb") as local:
                    while chunk := local.read(1024 * 1024):
                        file.write(chunk)
            else:
                netguard.fetch(
                    url,
                    ctx.settings.fetch_allow_private,
                    sink=file.write,
                    max_bytes=ctx.settings.feed_media_max_bytes,
                    timeout_s=ctx.settings.feed_fetch_timeout_s,
                    accept=MEDIA_TYPES,
                )
        except (netguard.FetchError, OSError) as exc:
            upload.unlink(missing_ok=True)
            _media_failed(ctx, item_id, url, exc.reason if isinstance(exc, netguard.FetchError) else str(exc))
            return False
    try:
        with ctx.db.session(write=True) as session:
            item = session.get(FeedItem, item_id, with_for_update=True)  # one video, if two workers got here
            if item is None or item.media_status != MediaStatus.pending.value or item.media_url != url:
                upload.unlink(missing_ok=True)  # changed meanwhile: the next pass takes it
                return False
            feed = session.get_one(PartnerFeed, feed_id)  # the item locked above belongs to it
            owner = session.get_one(User, feed.partner_id)  # a foreign key
            video = media.create_video(
                ctx,
                session,
                owner,
                title=item.title,
                description=item.description[:5000],
                upload=upload,
                filename=Path(urlsplit(url).path).name or "media.mp4",
            )
            if known_video is not None:  # a new media address: the old video gives way to the new one
                media.set_published(ctx, session, [known_video], False)
            item.video_id, item.media_status, item.media_error = video.id, MediaStatus.done.value, None
            apply_restriction(ctx, session, owner, video.id, item)
        import_feed_subtitles(ctx, item_id)  # each on its own: one that fails is noted on the item, not the video's
        return True
    except Busy:
        upload.unlink(missing_ok=True)  # the database was too busy to wait for: the item stays pending for next pass
        raise
    except VetrinaError as exc:
        _media_failed(ctx, item_id, url, exc.detail)
        return False


def _media_failed(ctx: Context, item_id: int, url: str, reason: str) -> None:
    with ctx.db.session(write=True) as session:  # unless another worker got it meanwhile, or its address changed
        session.execute(
            update(FeedItem)
            .where(
                FeedItem.id == item_id, FeedItem.media_url == url, FeedItem.media_status == MediaStatus.pending.value
            )
            .values(media_status=MediaStatus.failed.value, media_error=clipped(reason, 2000))
        )


@job(MEDIA_JOB)
def fetch_media_job(ctx: Context, feed_id: int) -> None:
    fetch_media(ctx, feed_id)
