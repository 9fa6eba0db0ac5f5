"""Import runs of partner feeds.

A run reads its feed twice: once to count the items and prove the whole document readable (a malformed
feed changes nothing), then item by item in batches. Each batch is one transaction that also moves the
run's `cursor`, so a run taken over after a crash (the run is leased: `vetrina.leases`) resumes after the
last committed batch, and re-running a feed is idempotent: items are keyed by the feed's GUID and compared
by fingerprint. Items the feed no longer lists are marked removed and their videos withdrawn once the whole
feed has been read. New titles' media is fetched by a separate job (`partners.media_fetch`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from vetrina import clock, netguard
from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.errors import Conflict, InvalidInput, NotFound, VetrinaError
from vetrina.i18n import _, clipped, said_by
from vetrina.leases import Lease, Outcome, leased_job, run_under_lease
from vetrina.media import service as media
from vetrina.partners import feeds
from vetrina.partners.media_fetch import MEDIA_JOB
from vetrina.partners.models import FeedFailure, FeedItem, FeedRun, MediaStatus, PartnerFeed, RunStatus
from vetrina.partners.restrictions import replace_restriction
from vetrina.partners.subtitles import SUBTITLES_JOB, subtitles_changed

RUN_JOB = "partners.import_feed"
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


def start_run(
    ctx: Context,
    session: Session,
    feed: PartnerFeed,
    trigger: str,
    *,
    fetch_media: bool = True,
    for_worker: bool = True,
) -> FeedRun:
    """A queued run of `feed`, handed to a worker after commit (`for_worker=False`: the caller runs it itself, as
    the CLI does); 409 while one is already queued or running."""
    # Serialise run starts of one feed (PostgreSQL row lock; SQLite's write transaction already is one).
    session.execute(select(PartnerFeed.id).where(PartnerFeed.id == feed.id).with_for_update())
    busy = session.scalar(
        select(FeedRun.id).where(
            FeedRun.feed_id == feed.id, FeedRun.status.in_([RunStatus.queued.value, RunStatus.running.value])
        )
    )
    if busy is not None:
        raise Conflict(_("Run {run_id} of this feed has not finished yet.", run_id=busy), run_id=busy)
    run = FeedRun(
        feed_id=feed.id, trigger=trigger, fetch_media=fetch_media, status=RunStatus.queued.value, created_at=clock.now()
    )
    session.add(run)
    session.flush()
    if for_worker:
        ctx.queue.enqueue_after_commit(session, RUN_JOB, run.id)
    return run


def get_run(session: Session, feed: PartnerFeed, run_id: int) -> FeedRun:
    run = session.get(FeedRun, run_id)
    if run is None or run.feed_id != feed.id:
        raise NotFound(_("There is no run {run_id} of feed {feed_id}.", run_id=run_id, feed_id=feed.id))
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


# Running an import ---------------------------------------------------------------------------------


@dataclass
class Fetched:
    path: Path
    local_dir: Path | None  # set when the feed is a local file: its media may be files beside it


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
            raise InvalidInput(
                _("The feed could not be fetched: {reason}", reason=exc.reason), field="source"
            ) from None
    return Fetched(target, None)


def run_import(ctx: Context, run_id: int, on_progress: Callable[[FeedRun], None] | None = None) -> FeedRun | None:
    """Claim the run and import its feed (resuming after its cursor); the finished run, or None when another
    worker holds it. `on_progress` is told after every batch (the CLI's progress bar)."""
    outcome = run_under_lease(
        ctx,
        FeedRun,
        run_id,
        lambda lease: _import(lease, on_progress),
        explain=_failure,
        scratch=f"feed-run-{run_id}",
        failure_values=lambda: {"finished_at": clock.now()},
    )
    if outcome not in (Outcome.done, Outcome.failed):
        return None
    with ctx.db.session() as session:
        return session.get(FeedRun, run_id)


def _failure(exc: Exception) -> str:
    return (
        exc.detail if isinstance(exc, VetrinaError) else _("The import failed ({kind}).", kind=exc.__class__.__name__)
    )


def _import(lease: Lease, on_progress: Callable[[FeedRun], None] | None) -> None:
    with lease.ctx.db.session() as session:
        run = lease.get(session, FeedRun)
        feed = session.get_one(PartnerFeed, run.feed_id)  # a foreign key: deleting the feed deletes its runs
        fmt, cursor = feed.format, run.cursor
    fetched = _fetch_feed(lease.ctx, feed, lease.scratch)
    try:
        total = feeds.count(fetched.path, fmt)
    except feeds.FeedError as exc:
        raise InvalidInput(said_by(exc), field="source") from None
    lease.renew_now(total=total, started_at=clock.now())
    _import_items(lease, feed, fetched, total, cursor, on_progress)
    _finish(lease, feed)


def _import_items(
    lease: Lease,
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
            _commit_batch(lease, feed, fetched, batch, position, total, on_progress)
            batch = []
    if batch:
        _commit_batch(lease, feed, fetched, batch, total, total, on_progress)


def _media_address(url: str, fetched: Fetched) -> str:
    """An http(s) URL as it is; from a local feed, a relative path or file: URL inside the feed's folder."""
    if url.startswith(("http://", "https://")):
        return url
    if fetched.local_dir is None:
        raise ValueError(_("media URLs are http:// or https://"))
    path = Path(urlsplit(url).path if url.startswith("file:") else url)
    resolved = (fetched.local_dir / path).resolve()
    if not resolved.is_relative_to(fetched.local_dir) or not resolved.is_file():
        raise ValueError(_("a local media file must exist inside the feed's own folder"))
    return resolved.as_uri()


def _commit_batch(
    lease: Lease,
    feed: PartnerFeed,
    fetched: Fetched,
    batch: list[feeds.Entry | feeds.ItemError],
    cursor: int,
    total: int,
    on_progress: Callable[[FeedRun], None] | None,
) -> None:
    run_id, now = lease.row_id, clock.now()
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    with lease.ctx.db.session(write=True) as session:
        run = lease.get(session, FeedRun)
        owner = session.get_one(User, feed.partner_id)  # a foreign key
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
                        raise ValueError(_("the media URL is longer than 2000 characters"))
                except ValueError as exc:
                    entry = feeds.ItemError(entry.position, entry.guid, said_by(exc))
            if isinstance(entry, feeds.ItemError):
                problems.append(entry)
                kept = known.get(entry.guid) if entry.guid is not None else None
                if kept is not None:  # still listed, only broken now: kept as it was, not removed
                    kept.last_run_id = run_id
                continue
            item = known.get(entry.guid)
            if entry.guid in seen or (item is not None and item.last_run_id == run_id):
                problems.append(feeds.ItemError(entry.position, entry.guid, _("the guid appears twice in the feed")))
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
                        _update_item(lease.ctx, session, owner, item, entry, fingerprint, now)
                except Conflict as exc:  # its restriction clashes with a licence made by hand: kept as it was
                    problems.append(
                        feeds.ItemError(entry.position, entry.guid, _("media:restriction: {detail}", detail=exc.detail))
                    )
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
                        run_id=run_id,
                        position=problem.position,
                        guid=problem.guid,
                        reason=clipped(problem.reason, 2000),
                    )
                )
        lease.renew(
            session,
            cursor=cursor,
            progress=round(min(cursor / total, 0.99), 4) if total else 0.0,
            **{name: getattr(FeedRun, name) + value for name, value in counts.items()},
        )
    if on_progress is not None:
        with lease.ctx.db.session() as session:
            latest = session.get(FeedRun, run_id)
            if latest is not None:  # else deleted (with its feed) meanwhile
                on_progress(latest)


def _update_item(
    ctx: Context, session: Session, owner: User, item: FeedItem, entry: feeds.Entry, fingerprint: str, now: datetime
) -> None:
    """The item as the feed now has it; its video's title and description too, published again if it had
    been removed, and its licence from a changed media:restriction. A new media address fetches the media
    again (and the new video gets the licence). Conflict when the new restriction clashes with a licence."""
    new_media = entry.media_url != item.media_url
    new_restriction = (item.details or {}).get("restriction") != entry.details.get("restriction")
    new_subtitles = subtitles_changed(item.details, entry.details)
    if new_media:
        item.media_status, item.media_error = MediaStatus.pending.value, None
    item.fingerprint, item.title, item.description = fingerprint, entry.title, entry.description
    item.media_url, item.details, item.updated_at = entry.media_url, entry.details, now
    video_id = item.video_id
    if video_id is not None and media.describe_video(
        ctx, session, video_id, title=entry.title, description=entry.description
    ):
        media.set_published(ctx, session, [video_id], True)
        if new_restriction and not new_media:
            replace_restriction(ctx, session, owner, video_id, item)
        if new_subtitles and not new_media:  # fetched by a worker, never inside the batch's transaction
            ctx.queue.enqueue_after_commit(session, SUBTITLES_JOB, item.id)
    item.removed = False


def _finish(lease: Lease, feed: PartnerFeed) -> None:
    """Mark what the feed no longer lists as removed (its videos withdrawn), and end the run."""
    run_id, now = lease.row_id, clock.now()
    with lease.ctx.db.session(write=True) as session:
        gone = select(FeedItem.id).where(
            FeedItem.feed_id == feed.id, FeedItem.last_run_id != run_id, FeedItem.removed.is_(False)
        )
        gone_ids = list(session.scalars(gone))
        for start in range(0, len(gone_ids), 500):
            chunk = gone_ids[start : start + 500]
            videos = session.scalars(
                select(FeedItem.video_id).where(FeedItem.id.in_(chunk), FeedItem.video_id.is_not(None))
            )
            # (the query leaves None out already)
            media.set_published(lease.ctx, session, [v for v in videos if v is not None], False)
            session.execute(
                update(FeedItem)
                .where(FeedItem.id.in_(chunk))
                .values(removed=True, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        run = lease.get(session, FeedRun)
        pending = session.scalar(
            select(func.count())
            .select_from(FeedItem)
            .where(
                FeedItem.feed_id == feed.id,
                FeedItem.media_status == MediaStatus.pending.value,
                FeedItem.removed.is_(False),
            )
        )
        lease.renew(session, status=RunStatus.done.value, removed=len(gone_ids), progress=1.0, finished_at=now)
        row = session.get_one(PartnerFeed, feed.id)  # its run is still there
        if row.rerun_hours:
            row.next_run_at = now + timedelta(hours=row.rerun_hours)
        if pending and run.fetch_media:
            lease.ctx.queue.enqueue_after_commit(session, MEDIA_JOB, feed.id)


@leased_job(RUN_JOB, FeedRun)
def import_feed_job(ctx: Context, run_id: int) -> None:
    run_import(ctx, run_id)
