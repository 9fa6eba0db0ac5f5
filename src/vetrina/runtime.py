"""The composition root: builds the parts one process needs from its settings (used by web and cli)."""

from __future__ import annotations

from dataclasses import dataclass

import vetrina.ads.serve
import vetrina.ads.tracking
import vetrina.analytics.rollups
import vetrina.commerce.jobs
import vetrina.media.transcode
import vetrina.partners.media_fetch
import vetrina.partners.runs
import vetrina.partners.schedule
import vetrina.payments.webhooks
import vetrina.shoppable.autotag.service
import vetrina.studio.service  # noqa: F401  (these register their jobs)
from vetrina.db import Database
from vetrina.geo import GeoLocator
from vetrina.jobs import JobQueue
from vetrina.settings import Settings
from vetrina.storage import MediaStore


@dataclass
class Runtime:
    settings: Settings
    db: Database
    store: MediaStore
    queue: JobQueue
    geo: GeoLocator

    def close(self) -> None:
        self.queue.stop_in_process()
        self.db.dispose()
        self.geo.close()


def build_runtime(settings: Settings | None = None, migrate: bool = True) -> Runtime:
    """Open the database (migrated to the newest schema), the media store, the job queue and the GeoIP locator."""
    settings = settings or Settings()
    # First, so a bad geo setting stops start-up before anything is opened or migrated.
    geo = GeoLocator.from_settings(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    if migrate:
        db.migrate()
    store = MediaStore(settings.media_dir, settings.signing_key)
    return Runtime(settings=settings, db=db, store=store, queue=JobQueue(settings, db, store), geo=geo)
