"""Alembic environment: runs against the engine Vetrina hands in (see Database.migrate)."""

from alembic import context
from sqlalchemy import text

from vetrina.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    from sqlalchemy import create_engine

    from vetrina.settings import Settings

    engine = create_engine(Settings().resolved_database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Nodes starting together migrate one at a time; the others then find the schema up to date.
            connection.execute(text("SELECT pg_advisory_xact_lock(7407110501)"))
        context.run_migrations()
