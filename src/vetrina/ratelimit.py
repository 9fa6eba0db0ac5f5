"""Rate limits: how often one account, user or address may do an action, counted with the `limits` package.

Counts live in Redis when VETRINA_REDIS_URL is set, so every process shares them; otherwise in this process's
memory, so each process of `vetrina serve --workers N` counts on its own."""

from __future__ import annotations

import hashlib
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from vetrina.errors import TooManyRequests
from vetrina.i18n import _
from vetrina.settings import DEFAULT_RATE_LIMITS, Settings

log = logging.getLogger(__name__)


def hashed(value: str) -> str:
    """A key that names one account without putting its email address into Redis."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimits:
    """The limit of each action (VETRINA_RATE_LIMITS), counted per key in a moving window; one per process."""

    def __init__(self, limits: dict[str, str], storage: Storage, enabled: bool = True) -> None:
        self._items: dict[str, RateLimitItem] = {action: parse(limit) for action, limit in limits.items()}
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self.enabled = enabled

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        storage: Storage
        if settings.redis_url:
            # Several deployments may share one Redis (as they share its queues): each counts under its own name.
            storage = RedisStorage(
                settings.redis_url, key_prefix=f"vetrina-limits:{settings.queue_name}", wrap_exceptions=True
            )
        else:
            storage = MemoryStorage(wrap_exceptions=True)
        # Merged again: a Settings made by model_copy(update=...) skips the validator that merges them.
        return cls({**DEFAULT_RATE_LIMITS, **settings.rate_limits}, storage, settings.rate_limits_enabled)

    @property
    def shared(self) -> bool:
        """Are the counts in Redis (shared by processes, and a network round trip away)?"""
        return not isinstance(self._storage, MemoryStorage)

    def hit(self, action: str, scope: str, key: str) -> None:
        """Count one `action` by `key` (of kind `scope`: account, user, address); TooManyRequests, with the seconds
        until the next one is allowed, when the limit is used up (the refused attempt is not counted)."""
        if not self.enabled:
            return
        item = self._items[action]
        try:
            if self._limiter.hit(item, action, scope, key):
                return
            reset_at = self._limiter.get_window_stats(item, action, scope, key).reset_time
        except StorageError as exc:
            # A Redis outage must not lock every user out of signing in: the action goes on unthrottled, logged.
            log.warning("rate limit %s for %s not counted: %s", action, scope, exc.storage_error)
            return
        retry_after_s = max(1, math.ceil(reset_at - time.time()))  # noqa: TID251  (limits counts in wall-clock time)
        raise TooManyRequests(
            _("Too many attempts; try again in {seconds} s.", seconds=retry_after_s),
            action=action,
            limit=str(item),
            retry_after_s=retry_after_s,
        )

    def reset(self, action: str, scope: str, key: str) -> None:
        """Forget the counts of `action` by `key` (a correct password clears its account's failed guesses)."""
        try:
            self._limiter.clear(self._items[action], action, scope, key)
        except StorageError as exc:
            log.warning("rate limit %s for %s not reset: %s", action, scope, exc.storage_error)
