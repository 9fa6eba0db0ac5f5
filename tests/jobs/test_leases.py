"""Leases on real SQLite and PostgreSQL: one of two racing workers gets a row, a silent one is taken over after
the stall time, work interrupted too often is given up, a lost lease stops the work and leaves the row to its new
holder; the one stalled-work sweep requeues every leased kind, from a thread that ticks every
`lease_sweep_seconds` wherever workers run; and the settings' old names still work, with a warning."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.helpers import wait_for
from tests.partners.helpers import catalogue
from vetrina import clock, leases
from vetrina.accounts.models import Role
from vetrina.context import Context
from vetrina.errors import InvalidInput
from vetrina.jobs import JobQueue
from vetrina.leases import Lease, LeaseLost, Outcome, run_under_lease
from vetrina.media.models import TranscodeChunk, Video
from vetrina.media.transcode import PART_JOB, TRANSCODE_JOB
from vetrina.partners import runs
from vetrina.partners import service as partners
from vetrina.partners.models import FeedRun, PartnerFeed
from vetrina.settings import Settings
from vetrina.shoppable.autotag.service import AUTOTAG_JOB
from vetrina.shoppable.models import AutotagRun
from vetrina.studio.models import Spot
from vetrina.studio.service import RENDER_JOB


def _feed_run(ctx, make_account, **changes) -> int:
    """A queued import run of a new feed (no task queued for it), with `changes` to its row."""
    partner = make_account(Role.partner).user
    with ctx.db.session() as session:
        feed = PartnerFeed(
            partner_id=partner.id, name="F", source=f"https://partner.example/{partner.id}.xml", created_at=clock.now()
        )
        session.add(feed)
        session.flush()
        fields = {"feed_id": feed.id, "trigger": "api", "status": "queued", "created_at": clock.now(), **changes}
        run = FeedRun(**fields)
        session.add(run)
        session.flush()
        return run.id


def _video(ctx, owner_id: int, **changes) -> int:
    """A processing video's row (no file: the lease is what is tested)."""
    fields = {
        "owner_id": owner_id,
        "title": "V",
        "status": "processing",
        "duration_s": 2.0,
        "width": 320,
        "height": 240,
        "frame_rate": 25.0,
        "has_audio": False,
        "renditions": [],
        "created_at": clock.now(),
        **changes,
    }
    with ctx.db.session() as session:
        video = Video(**fields)
        session.add(video)
        session.flush()
        return video.id


def _row(ctx, model, row_id: int):
    with ctx.db.session() as session:
        row = session.get(model, row_id)
        session.expunge(row)
        return row


def _later(seconds: float) -> None:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    clock.set_clock(lambda: moment)


def _explain(exc: Exception) -> str:
    return exc.detail if isinstance(exc, InvalidInput) else f"broke ({exc.__class__.__name__})"


# Claiming ------------------------------------------------------------------------------------------


def test_of_two_racing_workers_exactly_one_claims_the_row(ctx, make_account):
    for _ in range(4):
        run_id = _feed_run(ctx, make_account)
        start = threading.Barrier(2)
        tokens: list[str | None] = []

        def worker(run_id: int = run_id, start: threading.Barrier = start, tokens: list = tokens) -> None:
            start.wait()
            tokens.append(leases.claim(ctx, FeedRun, run_id))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        won = [t for t in tokens if t is not None]
        assert len(tokens) == 2 and len(won) == 1, tokens
        row = _row(ctx, FeedRun, run_id)
        assert (row.status, row.lease_token, row.attempts) == ("running", won[0], 1)


def test_two_workers_given_the_same_task_do_the_work_once(ctx, make_account):
    run_id = _feed_run(ctx, make_account)
    start = threading.Barrier(2)
    worked: list[str] = []
    outcomes: list[Outcome] = []

    def work(lease: Lease) -> None:
        worked.append(lease.token)
        lease.renew_now(status="done", progress=1.0)

    def worker() -> None:
        start.wait()
        outcomes.append(run_under_lease(ctx, FeedRun, run_id, work, explain=_explain))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [Outcome.done, Outcome.not_claimed]
    assert len(worked) == 1 and _row(ctx, FeedRun, run_id).status == "done"


def test_a_silent_lease_is_taken_over_after_the_stall_time_and_only_then(ctx, make_account):
    stall = ctx.settings.lease_stall_seconds
    run_id = _feed_run(ctx, make_account)
    first = leases.claim(ctx, FeedRun, run_id)
    assert first is not None
    assert leases.claim(ctx, FeedRun, run_id) is None, "a live lease is not taken"
    _later(stall - 5)
    assert leases.claim(ctx, FeedRun, run_id) is None, "nor one a little quiet"
    _later(stall + 1)
    second = leases.claim(ctx, FeedRun, run_id)
    assert second not in (None, first)
    with ctx.db.session(write=True) as session, pytest.raises(LeaseLost):
        leases.renew(session, FeedRun, run_id, first, progress=0.5)
    with ctx.db.session(write=True) as session:
        leases.renew(session, FeedRun, run_id, second, progress=0.25)
    row = _row(ctx, FeedRun, run_id)
    assert (row.status, row.lease_token, row.attempts, row.progress) == ("running", second, 2, 0.25)


def test_a_video_keeps_one_status_for_waiting_and_running(ctx, make_account):
    """Videos are `processing` both waiting and transcoding: the lease, not the status, tells them apart."""
    video_id = _video(ctx, make_account(Role.merchant).user.id)
    token = leases.claim(ctx, Video, video_id)
    assert token is not None
    row = _row(ctx, Video, video_id)
    assert (row.status, row.lease_token, row.attempts) == ("processing", token, 1)
    assert leases.claim(ctx, Video, video_id) is None
    _later(ctx.settings.lease_stall_seconds + 1)
    assert leases.claim(ctx, Video, video_id) not in (None, token)


def test_work_interrupted_too_often_is_given_up_with_its_reason(ctx, make_account):
    limit = ctx.settings.lease_max_attempts
    run_id = _feed_run(ctx, make_account)
    for attempt in range(1, limit + 1):
        assert leases.claim(ctx, FeedRun, run_id) is not None, f"attempt {attempt}"
        _later(attempt * (ctx.settings.lease_stall_seconds + 1))

    worked: list[int] = []
    outcome = run_under_lease(
        ctx,
        FeedRun,
        run_id,
        lambda lease: worked.append(1),
        explain=_explain,
        failure_values=lambda: {"finished_at": clock.now()},
    )
    assert outcome == Outcome.not_claimed and worked == []
    row = _row(ctx, FeedRun, run_id)
    assert row.status == "failed" and row.attempts == limit
    assert row.error == f"The import stopped after {limit} interrupted attempts."
    assert row.finished_at == clock.now()

    # Each kind names its own work; a video out of attempts whose last worker is still alive is left alone.
    owner = make_account(Role.merchant).user.id
    quiet = _video(ctx, owner, attempts=limit, heartbeat_at=clock.now() - timedelta(hours=1))
    alive = _video(ctx, owner, attempts=limit, heartbeat_at=clock.now(), lease_token="alive")
    assert leases.claim(ctx, Video, quiet) is None and leases.claim(ctx, Video, alive) is None
    assert _row(ctx, Video, quiet).error == f"Transcoding stopped after {limit} interrupted attempts."
    assert (_row(ctx, Video, alive).status, _row(ctx, Video, alive).lease_token) == ("processing", "alive")


# Running under a lease -----------------------------------------------------------------------------


def test_a_lost_lease_stops_the_work_and_leaves_the_row_to_its_new_holder(ctx, make_account):
    run_id = _feed_run(ctx, make_account)
    steps: list[str] = []
    taken: list[str | None] = []
    scratch: list[Path] = []

    def work(lease: Lease) -> None:
        scratch.append(lease.scratch)
        steps.append("started")
        # Meanwhile this worker's heartbeats stopped reaching the database, and another worker took over.
        _later(ctx.settings.lease_stall_seconds + 1)
        taken.append(leases.claim(ctx, FeedRun, run_id))
        lease.heartbeat(0.5)
        steps.append("went on")  # never: the heartbeat found the lease gone

    outcome = run_under_lease(ctx, FeedRun, run_id, work, explain=_explain, scratch=f"lease-test-{run_id}")
    assert outcome == Outcome.lost and steps == ["started"]
    [new_holder] = taken
    row = _row(ctx, FeedRun, run_id)
    assert (row.status, row.lease_token, row.attempts, row.error) == ("running", new_holder, 2, None)
    assert not scratch[0].exists()

    # A failure after the lease was lost is not recorded either: the row is the new holder's.
    other_id = _feed_run(ctx, make_account)

    def fail_after_losing(lease: Lease) -> None:
        _later(2 * (ctx.settings.lease_stall_seconds + 1))
        taken.append(leases.claim(ctx, FeedRun, other_id))
        raise RuntimeError("the disk is full")

    assert run_under_lease(ctx, FeedRun, other_id, fail_after_losing, explain=_explain) == Outcome.lost
    row = _row(ctx, FeedRun, other_id)
    assert taken[-1] is not None
    assert (row.status, row.lease_token, row.error) == ("running", taken[-1], None)


def test_a_failure_marks_the_row_failed_with_its_reason(ctx, make_account, caplog):
    expected, unexpected = _feed_run(ctx, make_account), _feed_run(ctx, make_account)

    def bad_input(lease: Lease) -> None:
        lease.renew_now(progress=0.4)
        raise InvalidInput("The feed is not MRSS.", field="source")

    def crash(lease: Lease) -> None:
        raise ZeroDivisionError("oops")

    finished = {"finished_at": clock.now()}
    with caplog.at_level(logging.WARNING, logger="vetrina.leases"):
        assert run_under_lease(ctx, FeedRun, expected, bad_input, explain=_explain) == Outcome.failed
        assert (
            run_under_lease(ctx, FeedRun, unexpected, crash, explain=_explain, failure_values=lambda: finished)
            == Outcome.failed
        )
    first, second = _row(ctx, FeedRun, expected), _row(ctx, FeedRun, unexpected)
    assert (first.status, first.error, first.progress, first.finished_at) == (
        "failed",
        "The feed is not MRSS.",
        0.4,
        None,
    )
    assert (second.status, second.error, second.finished_at) == (
        "failed",
        "broke (ZeroDivisionError)",
        finished["finished_at"],
    )
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in tracebacks] == [f"feed_runs {unexpected} failed"], "only the unexpected one"


def test_each_attempt_works_in_its_own_scratch_directory_removed_afterwards(ctx, make_account):
    run_id = _feed_run(ctx, make_account)
    earlier = ctx.store.scratch_dir(f"feed-run-{run_id}-0123456789ab")  # left by an attempt that died
    (earlier / "partial").write_bytes(b"x")
    other = ctx.store.scratch_dir(f"feed-run-{run_id}1-0123456789ab")  # another run's
    seen: list[Path] = []

    def work(lease: Lease) -> None:
        seen.append(lease.scratch)
        assert lease.scratch.is_dir() and lease.scratch.name == f"feed-run-{run_id}-{lease.token[:12]}"
        assert not earlier.exists()
        lease.renew_now(status="done")

    assert run_under_lease(ctx, FeedRun, run_id, work, explain=_explain, scratch=f"feed-run-{run_id}") == Outcome.done
    assert seen and not seen[0].exists() and other.exists()


# The sweep -------------------------------------------------------------------------------------------


def test_every_leased_kind_is_swept_by_the_one_sweep(ctx, make_account):
    assert {kind.job: kind.model for kind in leases.leased_kinds()} == {
        TRANSCODE_JOB: Video,
        PART_JOB: TranscodeChunk,
        RENDER_JOB: Spot,
        AUTOTAG_JOB: AutotagRun,
        runs.RUN_JOB: FeedRun,
    }
    merchant = make_account(Role.merchant).user
    ready_video = _video(ctx, merchant.id, status="ready")
    t0 = clock.now()
    stale = t0 - timedelta(seconds=ctx.settings.lease_stall_seconds + 1)
    old = t0 - timedelta(minutes=30)  # past the ten minutes of renders, runs and imports; not a video's hour

    def insert(model, **fields) -> int:
        with ctx.db.session() as session:
            row = model(**{"progress": 0.0, "created_at": t0, **fields})
            session.add(row)
            session.flush()
            return row.id

    def spot(**changes) -> int:
        return insert(Spot, merchant_id=merchant.id, spec={}, notes=[], **changes)

    def autotag_run(**changes) -> int:
        fields = {"video_id": ready_video, "requested_by": merchant.id, "product_ids": [], "catalogue_key": "k"}
        return insert(AutotagRun, proposals=0, notes=[], **fields, **changes)

    def feed_run(**changes) -> int:
        return _feed_run(ctx, make_account, **changes)

    parts = iter(range(100))

    def part(**changes) -> int:
        fields = {"video_id": ready_video, "part": next(parts), "start_s": 0.0, "duration_s": 60.0, "until_end": False}
        return insert(TranscodeChunk, output_key="videos/x/hls-a", result={}, **fields, **changes)

    makers = {
        TRANSCODE_JOB: (lambda **c: _video(ctx, merchant.id, **c), "processing", "processing"),
        PART_JOB: (part, "queued", "encoding"),
        RENDER_JOB: (spot, "queued", "rendering"),
        AUTOTAG_JOB: (autotag_run, "queued", "running"),
        runs.RUN_JOB: (feed_run, "queued", "running"),
    }
    requeued, forgotten = {}, {}
    for job, (make, waiting, running) in makers.items():
        gone_quiet = make(status=running, lease_token="dead", heartbeat_at=stale, attempts=1)
        forgotten[job] = make(status=waiting, created_at=old)
        requeued[job] = [gone_quiet] if job in (TRANSCODE_JOB, PART_JOB) else [gone_quiet, forgotten[job]]
        make(status=running, lease_token="alive", heartbeat_at=t0, attempts=1)  # these three are left alone
        make(status=waiting)
        make(status="failed", heartbeat_at=stale)

    before = ctx.queue.pending_count()
    assert leases.requeue_stalled(ctx) == requeued
    pending = [(task.name, task.args) for task in ctx.queue.huey.pending()]
    assert sorted(pending) == sorted((job, (row_id,)) for job, ids in requeued.items() for row_id in ids)
    assert ctx.queue.pending_count() == before + 8
    # A video (or a part of one) nobody claimed waits an hour, not ten minutes: they queue behind long transcodes.
    later = t0 + timedelta(hours=1, minutes=1)
    assert forgotten[TRANSCODE_JOB] in leases.requeue_stalled(ctx, now=later)[TRANSCODE_JOB]
    assert forgotten[PART_JOB] in leases.requeue_stalled(ctx, now=later)[PART_JOB]


def _dead_run(ctx, make_account, feed: Path, **changes) -> int:
    """A run of a local feed (no media fetched), with `changes` to its row."""
    partner = make_account(Role.partner).user
    with ctx.db.session(write=True) as session:
        made = partners.create_feed(session, partner, name="F", source=str(feed), local_ok=True)
        run = runs.start_run(ctx, session, made, "cli", fetch_media=False, for_worker=False)
        for name, value in changes.items():
            setattr(run, name, value)
        return run.id


@pytest.fixture
def feed_file(tmp_path) -> Path:
    path = tmp_path / "catalogue.xml"
    path.write_bytes(catalogue(3))
    return path


def test_workers_sweep_for_stalled_work_every_lease_sweep_seconds(ctx, make_account, feed_file):
    """In-process workers (as `vetrina serve` runs them) take over a run whose worker died, without a restart:
    their sweeper thread ticks every `lease_sweep_seconds`."""
    run_id = _dead_run(
        ctx,
        make_account,
        feed_file,
        status="running",
        lease_token="dead",
        attempts=1,
        heartbeat_at=clock.now() - timedelta(seconds=5),
    )

    def workers(sweep_seconds: float) -> JobQueue:
        fast = {"lease_stall_seconds": 1, "lease_sweep_seconds": sweep_seconds}
        return _beside(ctx, ctx.settings.model_copy(update=fast)).queue

    hourly = workers(3600)
    hourly.start_in_process()
    try:
        time.sleep(2)
        assert _row(ctx, FeedRun, run_id).lease_token == "dead", "no sweep is due yet"
    finally:
        hourly.stop_in_process()
    quick = workers(0.3)
    quick.start_in_process()
    try:
        done = wait_for(
            lambda: (row := _row(ctx, FeedRun, run_id)).status == "done" and row, timeout_s=30, message="takeover"
        )
    finally:
        quick.stop_in_process()
    assert (done.attempts, done.created, done.error) == (2, 3, None)
    assert quick.outcomes["leases.requeue_stalled"][0] >= 1


@pytest.mark.slow
def test_vetrina_worker_sweeps_for_stalled_work_while_it_runs(ctx, settings, make_account, feed_file, tmp_path):
    """`vetrina worker` sweeps at start-up and then every `lease_sweep_seconds`: a run whose worker dies while
    it is up is taken over."""
    other = tmp_path / "other.xml"
    other.write_bytes(catalogue(2))
    # Nobody claimed it a day ago: the start-up sweep queues it, so its being done shows the worker is up.
    probe = _dead_run(ctx, make_account, other, created_at=clock.now() - timedelta(days=1))
    run_id = _dead_run(
        ctx,
        make_account,
        feed_file,
        status="running",
        lease_token="this-test",
        attempts=1,
        heartbeat_at=clock.now(),
    )
    alive = threading.Event()

    def keep_alive() -> None:  # this test holds the run's lease until the worker is up
        while not alive.wait(0.2):
            with ctx.db.session(write=True) as session:
                leases.renew(session, FeedRun, run_id, "this-test")

    beating = threading.Thread(target=keep_alive)
    beating.start()
    env = {
        **os.environ,
        "VETRINA_DATA_DIR": str(settings.data_dir),
        "VETRINA_DATABASE_URL": settings.database_url,
        "VETRINA_SECRET_KEY": settings.secret_key,
        "VETRINA_LEASE_STALL_SECONDS": "2",
        "VETRINA_LEASE_SWEEP_SECONDS": "0.5",
        "VETRINA_JOB_POLL_MAX_S": "0.2",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "vetrina", "worker"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _row(ctx, FeedRun, probe).status == "done", timeout_s=60, message="the worker")
        assert _row(ctx, FeedRun, run_id).lease_token == "this-test"
        alive.set()  # this test's "worker" dies
        beating.join()
        done = wait_for(
            lambda: (row := _row(ctx, FeedRun, run_id)).status == "done" and row, timeout_s=30, message="takeover"
        )
        assert (done.attempts, done.created) == (2, 3)
    finally:
        alive.set()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


# Settings ------------------------------------------------------------------------------------------


def test_the_sweep_interval_is_a_setting(monkeypatch):
    monkeypatch.delenv("VETRINA_LEASE_SWEEP_SECONDS", raising=False)
    assert Settings().lease_sweep_seconds == 60
    monkeypatch.setenv("VETRINA_LEASE_SWEEP_SECONDS", "0.5")
    assert Settings().lease_sweep_seconds == 0.5
    monkeypatch.setenv("VETRINA_LEASE_SWEEP_SECONDS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_the_old_names_of_the_lease_settings_still_work_and_warn(monkeypatch, caplog):
    for name in ("VETRINA_LEASE_STALL_SECONDS", "VETRINA_LEASE_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VETRINA_TRANSCODE_STALL_SECONDS", "7")
    monkeypatch.setenv("VETRINA_MAX_TRANSCODE_ATTEMPTS", "5")
    with caplog.at_level(logging.WARNING, logger="vetrina.settings"), pytest.warns(DeprecationWarning) as warned:
        settings = Settings()
    assert (settings.lease_stall_seconds, settings.lease_max_attempts) == (7, 5)
    expected = [
        "VETRINA_MAX_TRANSCODE_ATTEMPTS is deprecated: set VETRINA_LEASE_MAX_ATTEMPTS instead",
        "VETRINA_TRANSCODE_STALL_SECONDS is deprecated: set VETRINA_LEASE_STALL_SECONDS instead",
    ]
    assert sorted(str(w.message) for w in warned) == expected
    assert sorted(r.getMessage() for r in caplog.records if r.name == "vetrina.settings") == expected

    monkeypatch.delenv("VETRINA_MAX_TRANSCODE_ATTEMPTS")
    monkeypatch.setenv("VETRINA_LEASE_STALL_SECONDS", "9")  # both given: the new name wins
    with pytest.warns(DeprecationWarning, match="set VETRINA_LEASE_STALL_SECONDS"):
        assert Settings().lease_stall_seconds == 9
    monkeypatch.setenv("VETRINA_TRANSCODE_STALL_SECONDS", "-1")  # still checked
    with pytest.raises(ValidationError):
        Settings()


def test_the_new_names_alone_raise_no_warning(monkeypatch):
    for name in ("VETRINA_TRANSCODE_STALL_SECONDS", "VETRINA_MAX_TRANSCODE_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VETRINA_LEASE_STALL_SECONDS", "9")
    monkeypatch.setenv("VETRINA_LEASE_MAX_ATTEMPTS", "4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = Settings()
    assert (settings.lease_stall_seconds, settings.lease_max_attempts) == (9, 4)


def _beside(ctx: Context, settings: Settings) -> Context:
    """A second context over the same database and store, with other settings and job workers of its own."""
    return Context(
        settings=settings, db=ctx.db, store=ctx.store, queue=JobQueue(settings), geo=ctx.geo, clock=ctx.clock
    )


def test_the_old_names_govern_claims(ctx, make_account, monkeypatch):
    """Settings given under the old names are the ones claims follow: the takeover time and the attempt limit."""
    monkeypatch.setenv("VETRINA_TRANSCODE_STALL_SECONDS", "5")
    monkeypatch.setenv("VETRINA_MAX_TRANSCODE_ATTEMPTS", "1")
    with pytest.warns(DeprecationWarning):
        old_names = Settings(data_dir=ctx.settings.data_dir, database_url=ctx.settings.database_url)
    ctx = _beside(ctx, old_names)
    run_id = _feed_run(ctx, make_account)
    assert leases.claim(ctx, FeedRun, run_id) is not None
    _later(4)
    assert leases.claim(ctx, FeedRun, run_id) is None, "5 s have not passed"
    _later(6)
    assert leases.claim(ctx, FeedRun, run_id) is None, "one attempt, and it was interrupted"
    row = _row(ctx, FeedRun, run_id)
    assert (row.status, row.error) == ("failed", "The import stopped after 1 interrupted attempts.")
