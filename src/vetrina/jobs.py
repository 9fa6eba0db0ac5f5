"""The task queue: huey, on SQLite embedded or on Redis at scale, with enqueue-after-commit.

Domain packages declare jobs with `@job` and `@periodic_job`; `JobQueue` binds them to one huey
instance built from settings, so the same code runs in-process (`vetrina serve`) or in
`vetrina worker` processes on many machines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from vetrina import clock
from vetrina.db import Base, UTCDateTime, after_commit
from vetrina.settings import Settings

log = logging.getLogger(__name__)


JobFunction = Callable[..., Any]
_jobs: dict[str, JobFunction] = {}
_periodic: dict[str, tuple[JobFunction, crontab]] = {}
_repeating: dict[str, tuple[JobFunction, Callable[[Settings], float]]] = {}


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Declare `fn(ctx, *args)` as a job named `name` (names are the queue's wire format); `ctx` is the
    process's `vetrina.context.Context`."""

    def register(fn: JobFunction) -> JobFunction:
        _jobs[name] = fn
        return fn

    return register


def periodic_job(name: str, schedule: crontab) -> Callable[[JobFunction], JobFunction]:
    """Declare `fn(ctx)` to run on `schedule` wherever a worker runs."""

    def register(fn: JobFunction) -> JobFunction:
        _periodic[name] = (fn, schedule)
        return fn

    return register


def repeating_job(name: str, every_s: Callable[[Settings], float]) -> Callable[[JobFunction], JobFunction]:
    """Declare `fn(ctx)` to run every `every_s(settings)` seconds, in a thread wherever job workers run: for
    work that must come round sooner than huey's crontab allows (once a minute at best)."""

    def register(fn: JobFunction) -> JobFunction:
        _repeating[name] = (fn, every_s)
        return fn

    return register


class PeriodicRun(Base):
    """A periodic job's run in one minute. Every process's scheduler queues periodic jobs; the first run to write
    this row does the work and the others of that minute skip it, so a job runs once per deployment."""

    __tablename__ = "periodic_runs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    minute: Mapped[str] = mapped_column(String(16), primary_key=True)  # 2026-12-05T09:41, UTC
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def once_a_minute_per_deployment(name: str, fn: JobFunction) -> JobFunction:
    def run(ctx: Any) -> Any:
        now = clock.now()
        try:
            with ctx.db.session(write=True) as session:
                session.add(PeriodicRun(name=name, minute=now.strftime("%Y-%m-%dT%H:%M"), created_at=now))
                if now.minute == 0:  # an hour's pruning: a day of runs is plenty to look back on
                    session.execute(delete(PeriodicRun).where(PeriodicRun.created_at < now - timedelta(days=1)))
        except IntegrityError:
            log.debug("%s already ran this minute elsewhere", name)
            return None
        return fn(ctx)

    return run


def build_huey(settings: Settings) -> Huey:
    """Redis when VETRINA_REDIS_URL is set, else a SQLite file beside the embedded database."""
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False, utc=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(settings.queue_name, filename=str(settings.data_dir / "jobs.db"), results=False, utc=True)


class _QuietConsumer(Consumer):
    """A consumer that leaves signal handling to its host (uvicorn) when run in-process."""

    def _set_signal_handlers(self) -> None:
        pass


class JobQueue:
    """The registered jobs bound to one huey instance."""

    def __init__(self, settings: Settings) -> None:
        self.huey = build_huey(settings)
        self.settings = settings
        # The Context jobs run with; it sets itself here when it is made (this layer does not know its type).
        self.context: Any = None
        # Per job name: [runs finished, runs failed] in this process (the operator's dashboard).
        self.outcomes: dict[str, list[int]] = {}
        self._outcomes_lock = threading.Lock()
        # Told (job name, failed) after each run: /metrics counts runs across processes.
        self.observers: list[Callable[[str, bool], None]] = []
        self._tasks = {name: self._bind(name, fn) for name, fn in _jobs.items()}
        for name, (fn, schedule) in _periodic.items():
            once = once_a_minute_per_deployment(name, fn)
            self.huey.periodic_task(schedule, name=name)(self._with_context(name, once))
        self._consumer: Consumer | None = None
        self._repeaters: list[threading.Thread] = []
        self._stop_repeating = threading.Event()

    def _with_context(self, name: str, fn: JobFunction) -> JobFunction:
        def run(*args: Any) -> Any:
            failed = True
            try:
                result = fn(self.context, *args)
                failed = False
                return result
            finally:
                with self._outcomes_lock:
                    counts = self.outcomes.setdefault(name, [0, 0])
                    counts[0] += 1
                    counts[1] += failed
                for observe in self.observers:
                    observe(name, failed)

        return run

    def _bind(self, name: str, fn: JobFunction) -> Any:
        return self.huey.task(name=name)(self._with_context(name, fn))

    def enqueue(self, name: str, *args: Any) -> None:
        self._tasks[name](*args)

    def enqueue_in(self, delay_s: float, name: str, *args: Any) -> None:
        """Run the job no sooner than `delay_s` from now (retries with backoff)."""
        self._tasks[name].schedule(args=args, delay=delay_s)

    def enqueue_after_commit(self, session: Session, name: str, *args: Any) -> None:
        """Enqueue only once `session` commits, so a worker never sees a row that was rolled back."""
        if name not in self._tasks:
            raise KeyError(f"no job named {name!r}")
        after_commit(session, lambda: self.enqueue(name, *args))

    def pending_count(self) -> int:
        return self.huey.pending_count()

    def start_in_process(self) -> None:
        """Run workers as threads of this process (the embedded default)."""
        self._consumer = _QuietConsumer(self.huey, **self._consumer_options())
        self._consumer.start()
        self._start_repeating()

    def stop_in_process(self) -> None:
        if self._consumer is not None:
            threading.Thread(target=self._consumer.stop, kwargs={"graceful": False}, daemon=True).start()
            self._consumer = None
        self._stop_repeating_jobs()

    def run_worker(self) -> None:
        """Run workers in the foreground until interrupted (`vetrina worker`)."""
        self._start_repeating()
        try:
            Consumer(self.huey, **self._consumer_options()).run()
        finally:
            self._stop_repeating_jobs()

    def _start_repeating(self) -> None:
        if self._repeaters:
            return
        self._stop_repeating = threading.Event()
        for name, (fn, every_s) in _repeating.items():
            run, interval = self._with_context(name, fn), every_s(self.context.settings)
            thread = threading.Thread(
                target=self._repeat, args=(name, run, interval, self._stop_repeating), name=name, daemon=True
            )
            thread.start()
            self._repeaters.append(thread)

    def _stop_repeating_jobs(self) -> None:
        self._stop_repeating.set()
        for thread in self._repeaters:
            # A run in progress is short (a sweep): waiting for it means nothing is enqueued after stopping.
            thread.join(timeout=10)
        self._repeaters = []

    @staticmethod
    def _repeat(name: str, run: JobFunction, interval_s: float, stop: threading.Event) -> None:
        next_at = time.monotonic() + interval_s
        while not stop.wait(max(0.0, next_at - time.monotonic())):
            next_at = time.monotonic() + interval_s
            try:
                run()
            except Exception:
                log.exception("repeating job %s failed", name)

    def _consumer_options(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "workers": settings.worker_threads,
            "worker_type": "thread",
            "periodic": True,
            "max_delay": settings.job_poll_max_s,
        }
