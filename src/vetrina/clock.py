"""The injectable clock: code asks `clock.now()` so tests can move time without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime


def _wall() -> datetime:
    return datetime.now(UTC)


class Clock:
    """A time source: the wall clock until a test sets another."""

    def __init__(self) -> None:
        self._source: Callable[[], datetime] = _wall

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return self._source()

    def set(self, source: Callable[[], datetime] | None) -> None:
        """Replace the time source; None restores the wall clock."""
        self._source = source or _wall


# The process's clock: the one every Context carries, so `clock.now()` and `ctx.clock.now()` agree.
PROCESS_CLOCK = Clock()


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return PROCESS_CLOCK.now()


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Replace the time source (tests); None restores the wall clock."""
    PROCESS_CLOCK.set(source)


def days_before(day: date, days: int) -> date:
    """The day `days` before `day`, or the calendar's first when that comes earlier (no overflow on odd input)."""
    return date.fromordinal(max(1, day.toordinal() - days))
