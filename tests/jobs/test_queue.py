"""The job queue: enqueued only after commit, on the SQLite default and on real Redis."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.helpers import REDIS_URL, redis_skip_reason, wait_for
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.jobs import RedisHuey, SqliteHuey, once_a_minute_per_deployment
from vetrina.media.transcode import TRANSCODE_JOB
from vetrina.runtime import build_context
from vetrina.web.app import create_app


def test_a_job_is_enqueued_only_when_its_transaction_commits(ctx):
    assert isinstance(ctx.queue.huey, SqliteHuey)
    before = ctx.queue.pending_count()
    with pytest.raises(RuntimeError), ctx.db.session() as session:
        ctx.queue.enqueue_after_commit(session, TRANSCODE_JOB, 1)
        raise RuntimeError("the request failed after queuing work")
    assert ctx.queue.pending_count() == before
    with ctx.db.session() as session:
        ctx.queue.enqueue_after_commit(session, TRANSCODE_JOB, 1)
        assert ctx.queue.pending_count() == before  # not yet: still inside the transaction
    assert ctx.queue.pending_count() == before + 1


def test_unknown_jobs_are_refused_at_once(ctx):
    with pytest.raises(KeyError), ctx.db.session() as session:
        ctx.queue.enqueue_after_commit(session, "no.such.job")


@pytest.mark.slow
def test_videos_transcode_through_the_redis_queue(settings, short_clip):
    if reason := redis_skip_reason():
        pytest.skip(reason)
    settings = settings.model_copy(update={"redis_url": REDIS_URL, "queue_name": f"vtr-test-{secrets.token_hex(4)}"})
    ctx = build_context(settings)
    try:
        assert isinstance(ctx.queue.huey, RedisHuey)
        from vetrina.accounts import service as accounts

        with ctx.db.session() as session:
            user = accounts.create_user(session, "r@example.com", "password one", Role.merchant)
            session.flush()
            token = accounts.create_api_token(session, user)
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(ctx, run_worker=True)) as client, short_clip.open("rb") as handle:
            video_id = client.post(
                "/api/v1/videos", headers=auth, data={"title": "Via Redis"}, files={"file": ("c.mp4", handle)}
            ).json()["id"]
            done = wait_for(
                lambda: (
                    (b := client.get(f"/api/v1/videos/{video_id}", headers=auth).json())["status"] != "processing" and b
                ),
                timeout_s=90,
                message="the Redis-queued transcode",
            )
        assert done["status"] == "ready", done["error"]
        assert ctx.queue.pending_count() == 0
    finally:
        ctx.queue.huey.storage.flush_all()
        ctx.close()


def test_a_periodic_job_runs_once_a_minute_however_many_processes_queue_it(settings):
    """Every process's scheduler queues each periodic job; one run a minute does the work, across machines."""
    node_a, node_b = build_context(settings), build_context(settings, migrate=False)
    runs: list[object] = []
    tick = once_a_minute_per_deployment("test.tick", runs.append)
    minute = clock.now().replace(second=10, microsecond=0)
    try:
        clock.set_clock(lambda: minute)
        tick(node_a)
        tick(node_b)
        tick(node_a)
        assert runs == [node_a]
        clock.set_clock(lambda: minute + timedelta(minutes=1))
        tick(node_b)
        assert runs == [node_a, node_b]
    finally:
        clock.set_clock(None)
        node_a.close()
        node_b.close()
