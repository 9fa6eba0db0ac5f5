"""The schedule: feeds with `rerun_hours` are run again when they are due; runs nobody took, or whose worker
went quiet, are queued again."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from huey import crontab
from sqlalchemy import or_, select

from vetrina import clock
from vetrina.errors import Conflict
from vetrina.jobs import JobContext, periodic_job
from vetrina.partners.models import FeedRun, PartnerFeed, RunStatus
from vetrina.partners.runs import RUN_JOB, start_run

NEVER_CLAIMED_AFTER = timedelta(minutes=10)


@periodic_job("partners.sweep", crontab(minute="*"))
def partners_sweep(ctx: JobContext, now: datetime | None = None) -> list[int]:
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
