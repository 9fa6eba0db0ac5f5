"""The one context every domain function, job and command is handed: the parts of one process.

A domain function that needs more than a database session takes `ctx: Context` first, then the session:
`pay(ctx, session, order_id, buyer)`. Jobs receive the same object, and so does the CLI. Nothing is optional:
a function that asks the rights cache gets it from `ctx`, so no caller can skip a check by leaving it out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol, Self, TypeVar

from sqlalchemy.orm import Session

from vetrina.changebus import EVERYTHING, ChangeBus
from vetrina.clock import Clock
from vetrina.db import Database, after_commit
from vetrina.geo import GeoLocator
from vetrina.jobs import JobQueue
from vetrina.ratelimit import RateLimits
from vetrina.settings import Settings
from vetrina.storage import MediaStore


class Topic(StrEnum):
    """What changed, as cached data knows it: a cache listens to the topics its copies are made from."""

    video = "video"  # a video's row (published, deleted, title)
    tags = "tags"  # a video's product tags
    licences = "licences"  # a title's licences
    campaigns = "campaigns"  # campaigns and videos' ad settings
    sign_ins = "sign_ins"  # a user's tokens and sessions (keyed by user id)


class ProcessCache(Protocol):
    """A per-process cache of database reads; dropped (wholly or one key) when its topics change."""

    topics: ClassVar[frozenset[Topic]]

    @classmethod
    def from_settings(cls, settings: Settings) -> Self: ...

    def forget(self, key: int | None) -> None: ...


CacheT = TypeVar("CacheT", bound=ProcessCache)


class Caches:
    """One instance of each cache kind per process, made on first use; each domain owns its cache's type,
    so this base layer never imports a domain."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._made: dict[type, ProcessCache] = {}
        self._lock = threading.Lock()
        # Other processes' changes, heard from the moment this one first caches (Redis deployments).
        self._bus = (
            ChangeBus(settings.redis_url, f"{settings.queue_name}:changes", self._forget_here)
            if settings.redis_url
            else None
        )

    def get(self, kind: type[CacheT]) -> CacheT:
        found = self._made.get(kind)
        if found is None:
            if self._bus is not None:
                self._bus.listen()  # before the first read, so no change made meanwhile goes unheard
            with self._lock:
                found = self._made.setdefault(kind, kind.from_settings(self._settings))
        return found  # type: ignore[return-value]

    def forget(self, topic: Topic, key: int | None = None) -> None:
        """Drop what every cache listening to `topic` holds for `key` (None: all of it), in this process and,
        through the change bus, in every other."""
        self._forget_here(topic, key)
        if self._bus is not None:
            self._bus.publish(topic, key)

    def _forget_here(self, topic: str, key: int | None) -> None:
        for cache in list(self._made.values()):
            if topic == EVERYTHING or topic in cache.topics:
                cache.forget(None if topic == EVERYTHING else key)

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()

    def forget_after_commit(self, session: Session, topic: Topic, key: int | None = None) -> None:
        """Forget once `session` commits: a reader must not re-cache the old rows before the change is visible."""
        after_commit(session, lambda: self.forget(topic, key))


@dataclass
class Context:
    settings: Settings
    db: Database
    store: MediaStore
    queue: JobQueue
    geo: GeoLocator
    clock: Clock
    caches: Caches = field(init=False)
    rate_limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        self.caches = Caches(self.settings)
        self.rate_limits = RateLimits.from_settings(self.settings)
        self.queue.context = self

    def close(self) -> None:
        self.caches.close()
        self.queue.stop_in_process()
        self.db.dispose()
        self.geo.close()
