"""The composition root: builds the parts one process needs from its settings (used by web and cli)."""

from __future__ import annotations

from dataclasses import dataclass

import vetrina.ads.serve
import vetrina.ads.tracking
import vetrina.commerce.jobs
import vetrina.media.transcode
import vetrina.payments.webhooks
import vetrina.shoppable.autotag.service
import vetrina.studio.service  # noqa: F401  (these register their jobs)
from vetrina.db import Database
from vetrina.jobs import JobQueue
from vetrina.settings import Settings
from vetrina.storage import MediaStore


@dataclass
class Runtime:
    settings: Settings
    db: Database
    store: MediaStore
    queue: JobQueue

    def close(self) -> None:
        self.queue.stop_in_process()
        self.db.dispose()


def build_runtime(settings: Settings | None = None, migrate: bool = True) -> Runtime:
    """Open the database (migrated to the newest schema), the media store and the job queue."""
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    if migrate:
        db.migrate()
    store = MediaStore(settings.media_dir, settings.signing_key)
    return Runtime(settings=settings, db=db, store=store, queue=JobQueue(settings, db, store))
