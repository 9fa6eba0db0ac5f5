"""The schedule: feeds with `rerun_hours` are run again when they are due."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from huey import crontab
from sqlalchemy import select

from vetrina import clock
from vetrina.context import Context
from vetrina.errors import Conflict
from vetrina.jobs import periodic_job
from vetrina.partners.models import PartnerFeed
from vetrina.partners.runs import start_run


@periodic_job("partners.start_due_runs", crontab(minute="*"))
def start_due_runs(ctx: Context, now: datetime | None = None) -> list[int]:
    """Start the scheduled runs that are due (and plan the next ones); returns the runs started. (Runs nobody
    took, or whose worker went quiet, are `leases.requeue_stalled`'s.)"""
    now = now or clock.now()
    started = []
    with ctx.db.session() as session:
        due = list(session.scalars(select(PartnerFeed.id).where(PartnerFeed.next_run_at <= now)))
    for feed_id in due:
        with ctx.db.session(write=True) as session:
            feed = session.get(PartnerFeed, feed_id)
            if feed is None:  # deleted since the due feeds were read
                continue
            feed.next_run_at = now + timedelta(hours=feed.rerun_hours or ctx.settings.feed_rerun_hours)
            with contextlib.suppress(Conflict):  # still running from last time
                started.append(start_run(ctx, session, feed, "schedule").id)
    return started
