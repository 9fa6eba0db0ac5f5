"""Leases for background work on a row: one worker at a time, taken over when its heartbeat stops.

A leased table (a model with the `Leased` columns) names its waiting, running and failed statuses once, in
`lease_statuses`. Its job is declared with `@leased_job`, which also enters the kind in the one sweep that
requeues stalled work. The job runs `run_under_lease`: the row is claimed (a conditional UPDATE: only one
worker can win), the work renews the lease with every heartbeat and finishes by renewing with the final
values; a renewal that finds another worker's token raises LeaseLost, which stops the work and leaves the
row to its new holder. After `lease_max_attempts` interrupted attempts the row is marked failed.
"""

from __future__ import annotations

import enum
import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from sqlalchemy import CursorResult, Float, Integer, String, and_, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from vetrina import clock
from vetrina.context import Context
from vetrina.db import StoredText, UTCDateTime
from vetrina.errors import VetrinaError
from vetrina.i18n import _
from vetrina.jobs import JobFunction, job, repeating_job
from vetrina.storage import StorageUnavailable

log = logging.getLogger(__name__)
# How long work waits for an object store that was down before it tries again.
STORE_RETRY_S = 30.0
HEARTBEAT_EVERY_S = 1.0


class LeaseLost(RuntimeError):
    """Another worker took this row over, or it was deleted; stop without touching it."""


@dataclass(frozen=True)
class LeaseStatuses:
    """The `status` values of one leased kind (the API shows them, so each kind keeps its own words)."""

    waiting: str  # queued for a worker
    running: str  # a worker holds the lease (may equal `waiting`, as for videos: both are `processing`)
    failed: str


class Leased:
    """The lease columns of a table whose rows background jobs work on, declared once for every such table.

    A subclass sets `lease_statuses` and `lease_work` (what the work is called in a failure message), and has
    a `created_at` column (a row nobody claimed is requeued only long after it)."""

    lease_statuses: ClassVar[LeaseStatuses]
    lease_work: ClassVar[str] = _("The work")  # a Message (`_`), in subclasses too

    @declared_attr
    def status(cls) -> Mapped[str]:
        return mapped_column(String(16), default=cls.lease_statuses.waiting, index=True)

    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(StoredText(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    if TYPE_CHECKING:
        __tablename__: str
        id: Mapped[int]
        created_at: Mapped[datetime]


LeasedT = TypeVar("LeasedT", bound=Leased)


def _takeable(model: type[Leased], stale_before: datetime) -> Any:
    """Rows a worker may claim: waiting and never claimed, or waiting/running under a worker gone quiet."""
    statuses = model.lease_statuses
    never_claimed = and_(model.status == statuses.waiting, model.heartbeat_at.is_(None))
    gone_quiet = and_(model.status.in_({statuses.waiting, statuses.running}), model.heartbeat_at < stale_before)
    return or_(never_claimed, gone_quiet)


def claim(ctx: Context, model: type[Leased], row_id: int, failure_values: dict[str, Any] | None = None) -> str | None:
    """Take the row if it waits, or its worker has gone quiet; its new lease token, or None.

    After `lease_max_attempts` interrupted attempts the row is marked failed instead (with `failure_values`);
    a row whose last attempt is still alive is left alone."""
    token, now = secrets.token_hex(16), clock.now()
    takeable = _takeable(model, now - timedelta(seconds=ctx.settings.lease_stall_seconds))
    limit = ctx.settings.lease_max_attempts
    with ctx.db.session(write=True) as session:
        claimed = cast(
            CursorResult[Any],
            session.execute(
                update(model)
                .where(model.id == row_id, takeable, model.attempts < limit)
                .values(
                    status=model.lease_statuses.running,
                    lease_token=token,
                    heartbeat_at=now,
                    attempts=model.attempts + 1,
                    progress=0.0,
                )
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if claimed:
            return token
        session.execute(
            update(model)
            .where(model.id == row_id, takeable, model.attempts >= limit)
            .values(
                status=model.lease_statuses.failed,
                error=_("{work} stopped after {limit} interrupted attempts.", work=model.lease_work, limit=limit),
                **(failure_values or {}),
            )
            .execution_options(synchronize_session=False)
        )
    return None


def renew(session: Session, model: type[Leased], row_id: int, token: str, **values: Any) -> None:
    """Heartbeat (and set `values`) while this worker still holds the lease; LeaseLost otherwise."""
    if not _update_held(session, model, row_id, token, heartbeat_at=clock.now(), **values):
        raise LeaseLost(f"{model.__tablename__} {row_id} was taken over")


def _update_held(session: Session, model: type[Leased], row_id: int, token: str, **values: Any) -> bool:
    """Set `values` on the row while this worker's `token` holds it running; False if another worker took it."""
    updated = cast(
        CursorResult[Any],
        session.execute(
            update(model)
            .where(model.id == row_id, model.lease_token == token, model.status == model.lease_statuses.running)
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    return bool(updated)


def _release(session: Session, model: type[Leased], row_id: int, token: str) -> bool:
    """Give the row back as waiting, never claimed, the attempt uncounted; False if another worker holds it."""
    return _update_held(
        session,
        model,
        row_id,
        token,
        status=model.lease_statuses.waiting,
        lease_token=None,
        heartbeat_at=None,
        attempts=model.attempts - 1,
    )


class Lease:
    """A lease this worker holds: what the work under it renews, beats and writes its scratch files with."""

    def __init__(self, ctx: Context, model: type[Leased], row_id: int, token: str, scratch: Path | None) -> None:
        self.ctx, self.model, self.row_id, self.token = ctx, model, row_id, token
        self._scratch = scratch
        self._last_beat = 0.0

    @property
    def scratch(self) -> Path:
        """This attempt's own working directory (removed when the work ends)."""
        if self._scratch is None:
            raise RuntimeError("run_under_lease was not asked for a scratch directory")
        return self._scratch

    def get(self, session: Session, model: type[LeasedT]) -> LeasedT:
        """The leased row, read in `session`; LeaseLost when it was deleted meanwhile (nothing is left to do)."""
        row = session.get(model, self.row_id)
        if row is None:
            raise LeaseLost(f"{self.model.__tablename__} {self.row_id} was deleted")
        return row

    def renew(self, session: Session, **values: Any) -> None:
        """Renew (and set `values`) in the caller's transaction; LeaseLost if another worker took the row."""
        renew(session, self.model, self.row_id, self.token, **values)

    def renew_now(self, **values: Any) -> None:
        """Renew (and set `values`) in a transaction of its own."""
        with self.ctx.db.session(write=True) as session:
            self.renew(session, **values)

    def heartbeat(self, progress: float) -> bool:
        """A progress callback that renews at most once a second (True when it did); a busy database costs a
        beat, not the work, and a lost lease raises LeaseLost (which stops an ffmpeg run that reports through it)."""
        if time.monotonic() - self._last_beat < HEARTBEAT_EVERY_S:
            return False
        self._last_beat = time.monotonic()
        try:
            self.renew_now(progress=round(min(max(progress, 0.0), 0.99), 4))
        except OperationalError as exc:
            log.warning("%s %s: heartbeat skipped (%s)", self.model.__tablename__, self.row_id, exc)
            return False
        return True

    def hand_off(self, session: Session) -> None:
        """Let go of the row while work elsewhere carries it on (a chunked transcode's parts, each leased on its
        own): it stays running, held by no worker, this attempt uncounted. That work keeps its heartbeat, and
        clears it to have the row taken again at once; if the heartbeat stops, the stalled-work sweep requeues it."""
        model = self.model
        if not _update_held(
            session,
            model,
            self.row_id,
            self.token,
            lease_token=None,
            heartbeat_at=clock.now(),
            attempts=model.attempts - 1,
        ):
            raise LeaseLost(f"{model.__tablename__} {self.row_id} was taken over")


class Outcome(enum.StrEnum):
    not_claimed = "not_claimed"  # done, failed, or in another worker's hands
    lost = "lost"  # taken over while working: the new holder finishes it
    done = "done"
    failed = "failed"
    deferred = "deferred"  # the store was down: the row waits again and its job is queued for later


def run_under_lease(
    ctx: Context,
    model: type[Leased],
    row_id: int,
    work: Callable[[Lease], None],
    *,
    explain: Callable[[Exception], str],
    expected: tuple[type[Exception], ...] = (VetrinaError,),
    scratch: str | None = None,
    failure_values: Callable[[], dict[str, Any]] | None = None,
) -> Outcome:
    """Claim the row and run `work` under its lease.

    A failure marks the row failed with `explain(exc)` (and `failure_values()`), unless the lease was lost
    meanwhile; failures not of an `expected` kind are logged with their traceback. With `scratch`, the work
    gets `lease.scratch`, a directory named `<scratch>-<token>` that is removed afterwards, as are those of
    this row's earlier attempts."""
    token = claim(ctx, model, row_id, failure_values() if failure_values else None)
    if token is None:
        return Outcome.not_claimed
    name = f"{model.__tablename__} {row_id}"
    directory = None
    if scratch is not None:
        for earlier in ctx.store.scratch_dirs(f"{scratch}-"):
            shutil.rmtree(earlier, ignore_errors=True)
        directory = ctx.store.scratch_dir(f"{scratch}-{token[:12]}")
    lease = Lease(ctx, model, row_id, token, directory)
    try:
        work(lease)
        return Outcome.done
    except LeaseLost:
        log.info("%s: lease lost, leaving it to its new worker", name)
        return Outcome.lost
    except StorageUnavailable as exc:
        # Nothing was published (a set becomes visible by its last file). The store's outage is not the work's
        # failure: the row waits again, this attempt uncounted, and its job is queued to try after a pause.
        log.warning("%s: %s; trying again in %ss", name, exc.detail, STORE_RETRY_S)
        with ctx.db.session(write=True) as session:
            if not _release(session, model, row_id, token):
                return Outcome.lost
        kind = next((k for k in _kinds.values() if k.model is model), None)
        if kind is not None:
            ctx.queue.enqueue_in(STORE_RETRY_S, kind.job, row_id)
        return Outcome.deferred
    except Exception as exc:
        if not isinstance(exc, expected):
            log.exception("%s failed", name)
        reason = explain(exc)
        try:
            lease.renew_now(
                status=model.lease_statuses.failed, error=reason, **(failure_values() if failure_values else {})
            )
        except LeaseLost:
            return Outcome.lost
        log.warning("%s failed: %s", name, reason)
        return Outcome.failed
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


# Stalled work ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeasedKind:
    model: type[Leased]
    job: str  # the job that works on one row: job(ctx, row_id)
    # A row nobody claimed is most likely still waiting its turn in the queue; a second task before this
    # long would only be a duplicate.
    never_claimed_after: timedelta


_kinds: dict[str, LeasedKind] = {}


def leased_job(
    name: str, model: type[Leased], never_claimed_after: timedelta = timedelta(minutes=10)
) -> Callable[[JobFunction], JobFunction]:
    """Declare `fn(ctx, row_id)` as the job named `name` that works on rows of `model` under their lease; the
    stalled-work sweep queues it again for rows whose worker went quiet."""

    def register(fn: JobFunction) -> JobFunction:
        _kinds[name] = LeasedKind(model, name, never_claimed_after)
        return job(name)(fn)

    return register


def leased_kinds() -> list[LeasedKind]:
    return list(_kinds.values())


def leased_kind(job_name: str) -> LeasedKind:
    return _kinds[job_name]


def stalled(kind: LeasedKind, stall_seconds: float, now: datetime) -> Any:
    """The condition on `kind.model` for rows to queue again."""
    model, statuses = kind.model, kind.model.lease_statuses
    quiet = and_(
        model.status.in_({statuses.waiting, statuses.running}),
        model.heartbeat_at < now - timedelta(seconds=stall_seconds),
    )
    forgotten = and_(
        model.status == statuses.waiting,
        model.heartbeat_at.is_(None),
        model.created_at < now - kind.never_claimed_after,
    )
    return or_(quiet, forgotten)


@repeating_job("leases.requeue_stalled", every_s=lambda settings: settings.lease_sweep_seconds)
def requeue_stalled(ctx: Context, now: datetime | None = None) -> dict[str, list[int]]:
    """Queue again every leased row whose worker went quiet, or that nobody took for a long while (its task may
    have been lost between commit and enqueue); the claim decides who gets it, so a duplicate is harmless.
    Returns the ids queued, by job name."""
    now = now or clock.now()
    requeued: dict[str, list[int]] = {}
    with ctx.db.session() as session:
        for kind in _kinds.values():
            where = stalled(kind, ctx.settings.lease_stall_seconds, now)
            ids = list(session.scalars(select(kind.model.id).where(where).order_by(kind.model.id)))
            if ids:
                requeued[kind.job] = ids
    for job_name, ids in requeued.items():
        for row_id in ids:
            ctx.queue.enqueue(job_name, row_id)
    if requeued:
        log.info("requeued stalled work: %s", requeued)
    return requeued
