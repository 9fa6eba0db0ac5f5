"""Partner feeds and their imports.

A run reads its feed twice: once to count the items and prove the whole document readable (a malformed
feed changes nothing), then item by item in batches. Each batch is one transaction that also moves the
run's `cursor`, so a run taken over after a crash resumes after the last committed batch, and re-running a
feed is idempotent: items are keyed by the feed's GUID and compared by fingerprint. Items the feed no longer
lists are marked removed and their videos unpublished once the whole feed has been read. New titles' media
is fetched (with `netguard.fetch`'s protections) and transcoded by a separate job, one item at a time.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from huey import crontab
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from vetrina import clock, leases, netguard
from vetrina.accounts.models import Role, User
from vetrina.context import Context
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound, VetrinaError
from vetrina.geo import TERRITORIES
from vetrina.jobs import job, periodic_job
from vetrina.leases import LeaseLost
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.partners import feeds
from vetrina.partners.models import FeedFailure, FeedItem, FeedRun, MediaStatus, PartnerFeed, RunStatus
from vetrina.rights import service as rights
from vetrina.rights.models import Licence
from vetrina.text import clean_text

log = logging.getLogger(__name__)

RUN_JOB = "partners.import_feed"
MEDIA_JOB = "partners.fetch_media"
BATCH = 250  # items per transaction
MAX_FAILURES_KEPT = 1000  # per run; the count goes on
FEED_TYPES = (
    "application/rss+xml",
    "application/xml",
    "text/xml",
    "application/atom+xml",
    "text/csv",
    "text/plain",
    "application/octet-stream",
)
MEDIA_TYPES = ("video/", "application/octet-stream")
NEVER_CLAIMED_AFTER = timedelta(minutes=10)
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)  # a feed's restriction has no end date


# Feeds -------------------------------------------------------------------------------------------


def create_feed(
    session: Session,
    user: User,
    *,
    name: str,
    source: str,
    fmt: str = "auto",
    rerun_hours: float | None = None,
    local_ok: bool = False,
    allow_private: bool = False,
) -> PartnerFeed:
    """A feed for `user`. Over the API `source` is an http(s) URL to a public address; from the command line
    (`local_ok`) it may be a file on this machine."""
    if user.role not in (Role.partner, Role.merchant, Role.admin):
        raise Forbidden("Only partner, merchant and admin accounts import feeds.")
    name = clean_text(name, "name", 200, required=True)
    if fmt not in ("auto", "mrss", "csv"):
        raise InvalidInput("The format is auto, mrss or csv.", field="format")
    if rerun_hours is not None and not 1 <= rerun_hours <= 24 * 90:
        raise InvalidInput("Re-runs are 1 hour to 90 days apart.", field="rerun_hours")
    if not (local_ok and Path(source).is_file()):
        netguard.check_outgoing_url(source, allow_private)
    existing = session.scalar(
        select(PartnerFeed).where(PartnerFeed.partner_id == user.id, PartnerFeed.source == source)
    )
    if existing is not None:
        return existing
    now = clock.now()
    feed = PartnerFeed(
        partner_id=user.id,
        name=name,
        source=source,
        format=fmt,
        rerun_hours=rerun_hours,
        created_at=now,
        next_run_at=now + timedelta(hours=rerun_hours) if rerun_hours else None,
    )
    session.add(feed)
    session.flush()
    return feed


def get_feed(session: Session, feed_id: int, user: User) -> PartnerFeed:
    feed = session.get(PartnerFeed, feed_id)
    if feed is None or not (feed.partner_id == user.id or user.role == Role.admin):
        raise NotFound(f"There is no feed {feed_id}.")
    return feed


def list_feeds(session: Session, user: User) -> list[PartnerFeed]:
    query = select(PartnerFeed).order_by(PartnerFeed.id)
    if user.role != Role.admin:
        query = query.where(PartnerFeed.partner_id == user.id)
    return list(session.scalars(query))


def start_run(
    session: Session, feed: PartnerFeed, trigger: str, fetch_media: bool = True, queue: Any = None
) -> FeedRun:
    """A queued run of `feed` (queued for a worker after commit when `queue` is given); 409 while one is
    already queued or running."""
    # Serialise run starts of one feed (PostgreSQL row lock; SQLite's write transaction already is one).
    session.execute(select(PartnerFeed.id).where(PartnerFeed.id == feed.id).with_for_update())
    busy = session.scalar(
        select(FeedRun.id).where(
            FeedRun.feed_id == feed.id, FeedRun.status.in_([RunStatus.queued.value, RunStatus.running.value])
        )
    )
    if busy is not None:
        raise Conflict(f"Run {busy} of this feed has not finished yet.", run_id=busy)
    run = FeedRun(
        feed_id=feed.id, trigger=trigger, fetch_media=fetch_media, status=RunStatus.queued.value, created_at=clock.now()
    )
    session.add(run)
    session.flush()
    if queue is not None:
        queue.enqueue_after_commit(session, RUN_JOB, run.id)
    return run


def get_run(session: Session, feed: PartnerFeed, run_id: int) -> FeedRun:
    run = session.get(FeedRun, run_id)
    if run is None or run.feed_id != feed.id:
        raise NotFound(f"There is no run {run_id} of feed {feed.id}.")
    return run


def list_runs(session: Session, feed: PartnerFeed, limit: int = 50) -> list[FeedRun]:
    return list(
        session.scalars(select(FeedRun).where(FeedRun.feed_id == feed.id).order_by(FeedRun.id.desc()).limit(limit))
    )


def failures(session: Session, run: FeedRun, limit: int = MAX_FAILURES_KEPT) -> list[FeedFailure]:
    return list(
        session.scalars(
            select(FeedFailure).where(FeedFailure.run_id == run.id).order_by(FeedFailure.position).limit(limit)
        )
    )


def items(session: Session, feed: PartnerFeed, page: int, per_page: int) -> tuple[list[FeedItem], int]:
    total = session.scalar(select(func.count()).select_from(FeedItem).where(FeedItem.feed_id == feed.id)) or 0
    rows = session.scalars(
        select(FeedItem)
        .where(FeedItem.feed_id == feed.id)
        .order_by(FeedItem.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), total


# Running an import ---------------------------------------------------------------------------------


@dataclass
class Fetched:
    path: Path
    local_dir: Path | None  # set when the feed is a local file: its media may be files beside it


@contextlib.contextmanager
def _own_scratch(ctx: Context, name: str) -> Iterator[Path]:
    """A working directory of this job's alone (`scratch_dir` empties one of the same name, and imports and
    fetches go on at once), removed afterwards."""
    path = ctx.store.scratch_dir(f"{name}-{secrets.token_hex(6)}")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _fetch_feed(ctx: Context, feed: PartnerFeed, scratch: Path) -> Fetched:
    source = Path(feed.source)
    if not feed.source.startswith(("http://", "https://")) and source.is_file():
        return Fetched(source, source.parent.resolve())
    target = scratch / "feed"
    with target.open("wb") as file:
        try:
            netguard.fetch(
                feed.source,
                ctx.settings.fetch_allow_private,
                sink=file.write,
                max_bytes=ctx.settings.feed_max_bytes,
                timeout_s=ctx.settings.feed_fetch_timeout_s,
                accept=FEED_TYPES,
            )
        except netguard.FetchError as exc:
            raise InvalidInput(f"The feed could not be fetched: {exc.reason}", field="source") from None
    return Fetched(target, None)


def run_import(ctx: Context, run_id: int, on_progress: Callable[[FeedRun], None] | None = None) -> FeedRun | None:
    """Claim the run and import its feed (resuming after its cursor); the finished run, or None when another
    worker holds it. `on_progress` is told after every batch (the CLI's progress bar)."""
    token = leases.claim(
        ctx,
        FeedRun,
        run_id,
        waiting=RunStatus.queued.value,
        running=RunStatus.running.value,
        failed=RunStatus.failed.value,
    )
    if token is None:
        return None
    try:
        with _own_scratch(ctx, f"feed-run-{run_id}") as tmp:
            with ctx.db.session() as session:
                run = session.get(FeedRun, run_id)
                feed = session.get(PartnerFeed, run.feed_id)
                fmt, cursor = feed.format, run.cursor
            fetched = _fetch_feed(ctx, feed, Path(tmp))
            try:
                total = feeds.count(fetched.path, fmt)
            except feeds.FeedError as exc:
                raise InvalidInput(str(exc), field="source") from None
            _renew(ctx, run_id, token, total=total, started_at=clock.now())
            _import_items(ctx, run_id, token, feed, fetched, total, cursor, on_progress)
            _finish(ctx, run_id, token, feed)
    except LeaseLost:
        log.info("feed run %s: lease lost", run_id)
        return None
    except Exception as exc:
        if not isinstance(exc, VetrinaError):
            log.exception("feed run %s failed", run_id)
        reason = exc.detail if isinstance(exc, VetrinaError) else f"The import failed ({exc.__class__.__name__})."
        try:
            _renew(ctx, run_id, token, status=RunStatus.failed.value, error=reason, finished_at=clock.now())
        except LeaseLost:
            return None
    with ctx.db.session() as session:
        return session.get(FeedRun, run_id)


def _renew(ctx: Context, run_id: int, token: str, **values: Any) -> None:
    with ctx.db.session(write=True) as session:
        leases.renew(session, FeedRun, run_id, token, RunStatus.running.value, **values)


def _import_items(
    ctx: Context,
    run_id: int,
    token: str,
    feed: PartnerFeed,
    fetched: Fetched,
    total: int,
    cursor: int,
    on_progress: Callable[[FeedRun], None] | None,
) -> None:
    batch: list[feeds.Entry | feeds.ItemError] = []
    for position, entry in enumerate(feeds.read(fetched.path, feed.format), 1):
        if position <= cursor:  # committed before an interruption
            continue
        batch.append(entry)
        if len(batch) >= BATCH:
            _commit_batch(ctx, run_id, token, feed, fetched, batch, position, total, on_progress)
            batch = []
    if batch:
        _commit_batch(ctx, run_id, token, feed, fetched, batch, total, total, on_progress)


def _media_address(url: str, fetched: Fetched) -> str:
    """An http(s) URL as it is; from a local feed, a relative path or file: URL inside the feed's folder."""
    if url.startswith(("http://", "https://")):
        return url
    if fetched.local_dir is None:
        raise ValueError("media URLs are http:// or https://")
    path = Path(urlsplit(url).path if url.startswith("file:") else url)
    resolved = (fetched.local_dir / path).resolve()
    if not resolved.is_relative_to(fetched.local_dir) or not resolved.is_file():
        raise ValueError("a local media file must exist inside the feed's own folder")
    return resolved.as_uri()


def _commit_batch(
    ctx: Context,
    run_id: int,
    token: str,
    feed: PartnerFeed,
    fetched: Fetched,
    batch: list[feeds.Entry | feeds.ItemError],
    cursor: int,
    total: int,
    on_progress: Callable[[FeedRun], None] | None,
) -> None:
    now = clock.now()
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    with ctx.db.session(write=True) as session:
        run = session.get(FeedRun, run_id)
        owner = session.get(User, feed.partner_id)
        guids = [e.guid for e in batch if e.guid]
        known = {
            i.guid: i
            for i in session.scalars(select(FeedItem).where(FeedItem.feed_id == feed.id, FeedItem.guid.in_(guids)))
        }
        problems: list[feeds.ItemError] = []
        seen: set[str] = set()
        for entry in batch:
            if isinstance(entry, feeds.Entry):
                try:
                    entry.media_url = _media_address(entry.media_url, fetched)
                    if len(entry.media_url) > 2000:
                        raise ValueError("the media URL is longer than 2000 characters")
                except ValueError as exc:
                    entry = feeds.ItemError(entry.position, entry.guid, str(exc))
            if isinstance(entry, feeds.ItemError):
                problems.append(entry)
                kept = known.get(entry.guid)
                if kept is not None:  # still listed, only broken now: kept as it was, not removed
                    kept.last_run_id = run_id
                continue
            item = known.get(entry.guid)
            if entry.guid in seen or (item is not None and item.last_run_id == run_id):
                problems.append(feeds.ItemError(entry.position, entry.guid, "the guid appears twice in the feed"))
                continue
            seen.add(entry.guid)
            fingerprint = entry.fingerprint()
            if item is None:
                item = FeedItem(
                    feed_id=feed.id,
                    guid=entry.guid,
                    fingerprint=fingerprint,
                    title=entry.title,
                    description=entry.description,
                    media_url=entry.media_url,
                    details=entry.details,
                    media_status=MediaStatus.pending.value,
                    removed=False,
                    last_run_id=run_id,
                    created_at=now,
                    updated_at=now,
                )
                session.add(item)
                known[entry.guid] = item
                counts["created"] += 1
                continue
            changed = item.fingerprint != fingerprint or item.removed
            if changed:
                try:
                    with session.begin_nested():
                        _update_item(session, owner, item, entry, fingerprint, now)
                except Conflict as exc:  # its restriction clashes with a licence made by hand: kept as it was
                    problems.append(feeds.ItemError(entry.position, entry.guid, f"media:restriction: {exc.detail}"))
                    item.last_run_id = run_id
                    continue
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
            item.last_run_id = run_id
        for problem in problems:
            counts["failed"] += 1
            if run.failed + counts["failed"] <= MAX_FAILURES_KEPT:
                session.add(
                    FeedFailure(
                        run_id=run_id, position=problem.position, guid=problem.guid, reason=problem.reason[:2000]
                    )
                )
        leases.renew(
            session,
            FeedRun,
            run_id,
            token,
            RunStatus.running.value,
            cursor=cursor,
            progress=round(min(cursor / total, 0.99), 4) if total else 0.0,
            **{name: getattr(FeedRun, name) + value for name, value in counts.items()},
        )
    if on_progress is not None:
        with ctx.db.session() as session:
            on_progress(session.get(FeedRun, run_id))


def _update_item(
    session: Session, owner: User, item: FeedItem, entry: feeds.Entry, fingerprint: str, now: datetime
) -> None:
    """The item as the feed now has it; its video's title and description too, published again if it had
    been removed, and its licence from a changed media:restriction. A new media address fetches the media
    again (and the new video gets the licence). Conflict when the new restriction clashes with a licence."""
    new_media = entry.media_url != item.media_url
    new_restriction = (item.details or {}).get("restriction") != entry.details.get("restriction")
    if new_media:
        item.media_status, item.media_error = MediaStatus.pending.value, None
    item.fingerprint, item.title, item.description = fingerprint, entry.title, entry.description
    item.media_url, item.details, item.updated_at = entry.media_url, entry.details, now
    if item.video_id is not None:
        video = session.get(Video, item.video_id)
        if video is not None:
            video.title, video.description = entry.title, entry.description[:5000]
            video.published = True
            if new_restriction and not new_media:
                session.execute(delete(Licence).where(Licence.video_id == video.id, Licence.from_feed.is_(True)))
                _apply_restriction(session, owner, video, item)
    item.removed = False


def _finish(ctx: Context, run_id: int, token: str, feed: PartnerFeed) -> None:
    """Mark what the feed no longer lists as removed (its videos unpublished), and end the run."""
    now = clock.now()
    with ctx.db.session(write=True) as session:
        gone = select(FeedItem.id).where(
            FeedItem.feed_id == feed.id, FeedItem.last_run_id != run_id, FeedItem.removed.is_(False)
        )
        gone_ids = list(session.scalars(gone))
        for start in range(0, len(gone_ids), 500):
            chunk = gone_ids[start : start + 500]
            session.execute(
                update(Video)
                .where(
                    Video.id.in_(
                        select(FeedItem.video_id).where(FeedItem.id.in_(chunk), FeedItem.video_id.is_not(None))
                    )
                )
                .values(published=False)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(FeedItem)
                .where(FeedItem.id.in_(chunk))
                .values(removed=True, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        run = session.get(FeedRun, run_id)
        pending = session.scalar(
            select(func.count())
            .select_from(FeedItem)
            .where(
                FeedItem.feed_id == feed.id,
                FeedItem.media_status == MediaStatus.pending.value,
                FeedItem.removed.is_(False),
            )
        )
        leases.renew(
            session,
            FeedRun,
            run_id,
            token,
            RunStatus.running.value,
            status=RunStatus.done.value,
            removed=len(gone_ids),
            progress=1.0,
            finished_at=now,
        )
        row = session.get(PartnerFeed, feed.id)
        if row.rerun_hours:
            row.next_run_at = now + timedelta(hours=row.rerun_hours)
        if pending and run.fetch_media:
            ctx.queue.enqueue_after_commit(session, MEDIA_JOB, feed.id)


@job(RUN_JOB)
def import_feed_job(ctx: Context, run_id: int) -> None:
    run_import(ctx, run_id)


# Media ---------------------------------------------------------------------------------------------


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
                on_item(session.get(FeedItem, item_id))
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
                    raise netguard.FetchError("The file is larger than the media limit.")
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
            feed = session.get(PartnerFeed, feed_id)
            owner = session.get(User, feed.partner_id)
            video = media.create_video(
                session,
                ctx.store,
                ctx.settings,
                ctx.queue,
                owner,
                title=item.title,
                description=item.description[:5000],
                upload=upload,
                filename=Path(urlsplit(url).path).name or "media.mp4",
            )
            if known_video is not None:  # a new media address: the old video gives way to the new one
                old = session.get(Video, known_video)
                if old is not None:
                    old.published = False
            item.video_id, item.media_status, item.media_error = video.id, MediaStatus.done.value, None
            _apply_restriction(session, owner, video, item)
        return True
    except VetrinaError as exc:
        _media_failed(ctx, item_id, url, exc.detail)
        return False


def _apply_restriction(session: Session, owner: User, video: Video, item: FeedItem) -> None:
    """MRSS `media:restriction` as a licence of the title to its partner: allowed countries, or every
    country but the denied ones ("all" or no restriction: not rights-managed)."""
    restriction = (item.details or {}).get("restriction")
    if not restriction:
        return
    relationship, countries = restriction["relationship"], restriction["countries"]
    if countries in ("all", "none"):
        if (relationship == "allow") == (countries == "all"):  # allow all, deny none: not restricted
            return
        allowed: list[str] = []
    else:
        allowed = list(countries) if relationship == "allow" else sorted(TERRITORIES - set(countries))
    if not allowed:
        video.published = False  # allowed nowhere
        return
    rights.create_licence(
        session,
        owner,
        video.id,
        distributor=owner.email,
        territories=allowed,
        starts_at=clock.now(),
        ends_at=FOREVER,
        uses=["stream", "ads", "commerce"],
        from_feed=True,
    )


def _media_failed(ctx: Context, item_id: int, url: str, reason: str) -> None:
    with ctx.db.session(write=True) as session:  # unless another worker got it meanwhile, or its address changed
        session.execute(
            update(FeedItem)
            .where(
                FeedItem.id == item_id, FeedItem.media_url == url, FeedItem.media_status == MediaStatus.pending.value
            )
            .values(media_status=MediaStatus.failed.value, media_error=reason[:2000])
        )


@job(MEDIA_JOB)
def fetch_media_job(ctx: Context, feed_id: int) -> None:
    fetch_media(ctx, feed_id)


# Schedule ------------------------------------------------------------------------------------------


@periodic_job("partners.sweep", crontab(minute="*"))
def partners_sweep(ctx: Context, now: datetime | None = None) -> list[int]:
    """Start the scheduled runs that are due, and queue again runs nobody took or whose worker went quiet.
    Returns the runs started."""
    now = now or clock.now()
    started = []
    with ctx.db.session() as session:
        stale = now - timedelta(seconds=ctx.settings.transcode_stall_seconds)
        waiting = or_(
            (FeedRun.status == RunStatus.running.value) & (FeedRun.heartbeat_at < stale),
            (FeedRun.status == RunStatus.queued.value) & (FeedRun.created_at < now - NEVER_CLAIMED_AFTER),
        )
        for run_id in list(session.scalars(select(FeedRun.id).where(waiting))):
            ctx.queue.enqueue(RUN_JOB, run_id)
        due = list(session.scalars(select(PartnerFeed.id).where(PartnerFeed.next_run_at <= now)))
    for feed_id in due:
        with ctx.db.session(write=True) as session:
            feed = session.get(PartnerFeed, feed_id)
            feed.next_run_at = now + timedelta(hours=feed.rerun_hours or ctx.settings.feed_rerun_hours)
            with contextlib.suppress(Conflict):  # still running from last time
                started.append(start_run(session, feed, "schedule", queue=ctx.queue).id)
    return started
