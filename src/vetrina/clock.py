"""The injectable clock: code asks `clock.now()` so tests can move time without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _now()


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Replace the time source (tests); None restores the wall clock."""
    global _now
    _now = source or (lambda: datetime.now(UTC))
