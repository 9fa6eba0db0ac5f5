"""Leases for background work on a row: one worker at a time, taken over when its heartbeat stops.

A row that a job works on has `status`, `lease_token`, `heartbeat_at`, `attempts` and `progress`. The
worker claims it (a conditional UPDATE: only one can win), renews the lease with every heartbeat, and
finishes by renewing with the final values; a renewal that finds another worker's token raises LeaseLost.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.context import Context

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """Another worker took this row over; stop without touching it."""


def claim(ctx: Context, model: Any, row_id: int, *, waiting: str, running: str, failed: str) -> str | None:
    """Take the row if it is `waiting`, or `running` under a worker gone quiet; its token, or None.

    After `max_transcode_attempts` interrupted attempts the row is marked `failed` instead."""
    token, now = secrets.token_hex(16), clock.now()
    stale_before = now - timedelta(seconds=ctx.settings.transcode_stall_seconds)
    takeable = or_(model.status == waiting, and_(model.status == running, model.heartbeat_at < stale_before))
    limit = ctx.settings.max_transcode_attempts
    with ctx.db.session(write=True) as session:
        claimed = session.execute(
            update(model)
            .where(model.id == row_id, takeable, model.attempts < limit)
            .values(status=running, lease_token=token, heartbeat_at=now, attempts=model.attempts + 1, progress=0.0)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            return token
        session.execute(
            update(model)
            .where(model.id == row_id, takeable, model.attempts >= limit)
            .values(status=failed, error=f"The work stopped after {limit} interrupted attempts.")
            .execution_options(synchronize_session=False)
        )
    return None


def renew(session: Session, model: Any, row_id: int, token: str, running: str, **values: Any) -> None:
    """Heartbeat (and set `values`) while this worker still holds the lease; LeaseLost otherwise."""
    renewed = session.execute(
        update(model)
        .where(model.id == row_id, model.lease_token == token, model.status == running)
        .values(heartbeat_at=clock.now(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not renewed:
        raise LeaseLost(f"{model.__tablename__} {row_id} was taken over")


class Heartbeat:
    """A progress callback that renews the lease at most once a second; a busy database costs a beat, not the
    work, and a lost lease raises LeaseLost (which stops an ffmpeg run that reports through it)."""

    def __init__(self, ctx: Context, model: Any, row_id: int, token: str, running: str, every_s: float = 1.0):
        self._ctx, self._model, self._row_id, self._token, self._running = ctx, model, row_id, token, running
        self._every_s, self._last = every_s, 0.0

    def __call__(self, progress: float) -> None:
        if time.monotonic() - self._last < self._every_s:
            return
        self._last = time.monotonic()
        try:
            with self._ctx.db.session(write=True) as session:
                renew(
                    session,
                    self._model,
                    self._row_id,
                    self._token,
                    self._running,
                    progress=round(min(progress, 0.99), 4),
                )
        except OperationalError as exc:
            log.warning("%s %s: heartbeat skipped (%s)", self._model.__tablename__, self._row_id, exc)
