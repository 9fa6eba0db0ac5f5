"""After-commit and on-rollback hooks fire for the outer transaction only."""

from __future__ import annotations

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
