"""The composition root: makes sure every domain's jobs are declared, then builds one process's Context."""

from __future__ import annotations

import vetrina.ads.serve
import vetrina.ads.tracking
import vetrina.analytics.rollups
import vetrina.commerce.checkout
import vetrina.commerce.jobs
import vetrina.live.highlights
import vetrina.media.transcode
import vetrina.partners.media_fetch
import vetrina.partners.runs
import vetrina.partners.schedule
import vetrina.payments.idempotency
import vetrina.payments.source_refunds
import vetrina.payments.webhooks
import vetrina.payouts.service
import vetrina.shoppable.autotag.service
import vetrina.studio.service  # noqa: F401  (these register their jobs)
from vetrina.clock import PROCESS_CLOCK
from vetrina.context import Context
from vetrina.db import Database
from vetrina.geo import GeoLocator
from vetrina.jobs import JobQueue
from vetrina.settings import Settings
from vetrina.storage import open_store


def build_context(settings: Settings | None = None, migrate: bool = True) -> Context:
    """Open the database (migrated to the newest schema), the media store, the job queue and the GeoIP locator."""
    settings = settings or Settings()
    # First, so a bad geo setting stops start-up before anything is opened or migrated.
    geo = GeoLocator.from_settings(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, queue_timeout_s=settings.queue_timeout_ms / 1000)
    if migrate:
        db.migrate()
    store = open_store(settings)
    store.check()  # a missing bucket or refused credentials stop start-up here, not the first upload
    return Context(settings=settings, db=db, store=store, queue=JobQueue(settings), geo=geo, clock=PROCESS_CLOCK)
