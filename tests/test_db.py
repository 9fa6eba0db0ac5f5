"""After-commit and on-rollback hooks fire for the outer transaction only."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import text

from vetrina.db import after_commit, on_rollback


def test_hooks_follow_the_outer_transaction_not_savepoints(ctx):
    log: list[str] = []
    with ctx.db.session() as session:
        on_rollback(session, lambda: log.append("rolled back"))
        after_commit(session, lambda: log.append("committed"))
        with pytest.raises(ValueError), session.begin_nested():
            session.execute(text("SELECT 1"))
            raise ValueError("a handled failure inside a savepoint")
        assert log == []
    assert log == ["committed"]

    with pytest.raises(RuntimeError), ctx.db.session() as session:
        on_rollback(session, lambda: log.append("rolled back"))
        after_commit(session, lambda: log.append("committed again"))
        raise RuntimeError("the request failed")
    assert log == ["committed", "rolled back"]


def test_the_migrations_make_the_schema_the_models_describe(ctx):
    """Migrated from nothing, the database has every table, column, type and key the models have, on both
    databases (a model changed without a migration would fail here)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from vetrina import models

    with ctx.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, models.Base.metadata)
    assert differences == []


@pytest.mark.postgres
def test_nodes_starting_together_migrate_one_at_a_time(empty_database_url):
    """Several web nodes and workers start at once on an empty PostgreSQL database: each migrates, none fails."""
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("SQLite has one machine, and its own write lock")
    code = f"from vetrina.db import Database; Database({empty_database_url!r}).migrate()"
    starts = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    failures = [(p.wait(), p.stderr.read()[-500:]) for p in starts]
    assert [code for code, _ in failures] == [0, 0, 0, 0], failures


def test_a_write_session_may_end_in_another_thread_than_the_one_that_began_it(ctx):
    """FastAPI begins and ends a generator dependency's session in whichever worker threads are free: the write
    turn must be given back from either (a lock owned by the first thread failed there, and stayed taken)."""
    from concurrent.futures import ThreadPoolExecutor

    def begin() -> tuple[Any, Any]:
        unit = ctx.db.session(write=True)
        session = unit.__enter__()
        session.execute(text("SELECT 1"))
        return unit, session

    with ThreadPoolExecutor(max_workers=1) as first, ThreadPoolExecutor(max_workers=1) as second:
        unit, _session = first.submit(begin).result()
        second.submit(unit.__exit__, None, None, None).result()
        again, _ = first.submit(begin).result(timeout=30)  # the turn came back: no Busy, no hang
        second.submit(again.__exit__, None, None, None).result()
