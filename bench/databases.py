"""Fresh databases for a benchmark: SQLite in its data dir, or new schemas on a PostgreSQL server."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def databases(postgres: str | None) -> Iterator[Callable[[], str | None]]:
    """A maker of fresh databases: None (SQLite in the data dir), or a new schema on `postgres`, all dropped
    at the end."""
    schemas: list[str] = []

    def fresh() -> str | None:
        if not postgres:
            return None
        schemas.append(f"bench_{secrets.token_hex(4)}")
        with psycopg.connect(postgres.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schemas[-1]}"')
        return f"{postgres}?options=-csearch_path%3D{schemas[-1]}"

    try:
        yield fresh
    finally:
        if schemas:
            with psycopg.connect(postgres.replace("+psycopg", ""), autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
