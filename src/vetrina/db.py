"""SQLAlchemy engine and sessions, the declarative base, column types, and the Alembic migration runner."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from sqlalchemy import JSON, DateTime, String, Text, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

from vetrina.errors import Busy
from vetrina.i18n import from_storage, storable

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base of every table; each domain package owns its own tables."""


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC, on SQLite (which drops zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use vetrina.clock.now()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StoredText(TypeDecorator):
    """Text shown to people (an error, a note, a reason): a `Message` (`_()`) is stored as its catalogue id and
    parameters and read back as a Message, so that it is translated when shown; typed text is stored as typed.

    Core `insert()`/`update()` values go through it too. With a `length` (a VARCHAR), a Message whose stored form
    would not fit is stored as its English, cut to fit."""

    impl: TypeEngine[Any] | type[TypeEngine[Any]] = Text
    cache_ok = True

    def __init__(self, length: int | None = None) -> None:
        super().__init__()
        self.length = length
        if length is not None:
            self.impl = String(length)

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        stored = storable(value)
        if self.length is not None and len(stored) > self.length:
            stored = storable(value[: self.length])[: self.length]
        return stored

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else from_storage(value)


class StoredTexts(TypeDecorator):
    """A JSON list of texts shown to people (notes), each kept as `StoredText` keeps one."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: Any) -> list[str] | None:
        return None if value is None else [storable(text) for text in value]

    def process_result_value(self, value: list[Any] | None, dialect: Any) -> list[str] | None:
        if value is None:
            return None
        return [from_storage(text) if isinstance(text, str) else text for text in value]


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the driver, begins transactions (see _begin_sqlite), so BEGIN IMMEDIATE is possible.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite(connection: Any) -> None:
    connection.exec_driver_sql(f"BEGIN {connection.get_execution_options().get('sqlite_begin', 'DEFERRED')}")


AfterCommit = Callable[[], None]
QUEUE_TIMEOUT_S = 30  # how long a unit of work waits for a connection or the write turn, unless told otherwise


class Database:
    """One engine and session factory. `session()` commits on success and runs after-commit hooks."""

    def __init__(self, url: str, queue_timeout_s: float = QUEUE_TIMEOUT_S) -> None:
        self.url = url
        self.queue_timeout_s = queue_timeout_s
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False} if self.is_sqlite else {}
        # SQLite connections are cheap file handles: one kept for each of the web server's 40 worker threads,
        # so that busy spells do not open and close connections (each open re-runs `_tune_sqlite`).
        pool = {"pool_size": 40, "max_overflow": 10} if self.is_sqlite else {"pool_timeout": queue_timeout_s}
        self.engine: Engine = create_engine(url, pool_pre_ping=not self.is_sqlite, connect_args=connect_args, **pool)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _tune_sqlite)
            event.listen(self.engine, "begin", _begin_sqlite)
        # Owned by no thread: FastAPI may end a request's session (a generator dependency) in another worker thread
        # than the one that began it. A write session nested in another in one thread waits out the queue timeout
        # and is Busy (SQLite would refuse it anyway: one writer at a time).
        self._sqlite_writer = threading.Lock()
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: a writer takes the write lock when it begins, not at its first write, so a
        # read-then-write never fails on a snapshot another writer moved (PostgreSQL locks rows instead).
        self.write_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        # One consistent view across many queries (reports and checks): PostgreSQL needs REPEATABLE READ;
        # a SQLite read transaction in WAL mode is a snapshot already.
        snapshot_engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self.snapshot_sessions = sessionmaker(snapshot_engine, expire_on_commit=False)
        for maker in (self.sessions, self.write_sessions, self.snapshot_sessions):
            event.listen(maker, "after_commit", _run_after_commit)
            event.listen(maker, "after_soft_rollback", _drop_after_commit)

    @contextmanager
    def session(self, write: bool = False, snapshot: bool = False) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises.

        `write=True` for work that reads and then writes what it read (money, stock, leases);
        `snapshot=True` for reads that must all see the same moment (the ledger check).
        """
        maker = self.write_sessions if write else self.snapshot_sessions if snapshot else self.sessions
        with self._writer_turn(write), maker() as session, session.begin():
            try:
                session.connection()  # the pool's wait happens here, where it can be answered as Busy
            except sqlalchemy.exc.TimeoutError:
                raise busy(f"no database connection came free within {self.queue_timeout_s:g} s") from None
            yield session

    @contextmanager
    def _writer_turn(self, write: bool) -> Iterator[None]:
        # SQLite has one writer at a time and its busy handler polls with sleeps of up to 100 ms;
        # queueing this process's writers on a lock hands the turn over at once instead.
        if not (write and self.is_sqlite):
            yield
            return
        if not self._sqlite_writer.acquire(timeout=self.queue_timeout_s):
            raise busy(f"no turn to write to the database within {self.queue_timeout_s:g} s")
        try:
            yield
        finally:
            self._sqlite_writer.release()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["engine"] = self.engine
        command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def busy(why: str) -> Busy:
    """Overload shed, not queued: 503 with Retry-After (a retry with the same Idempotency-Key is safe)."""
    return Busy(f"The server is busy ({why}); try again in a moment.", retry_after_s=1)


def after_commit(session: Session, action: AfterCommit) -> None:
    """Run `action` only once `session`'s transaction has committed; dropped on rollback."""
    session.info.setdefault("after_commit", []).append(action)


def on_rollback(session: Session, action: AfterCommit) -> None:
    """Run `action` if `session`'s transaction rolls back (e.g. remove a file written for it)."""
    session.info.setdefault("on_rollback", []).append(action)


def _run_after_commit(session: Session) -> None:
    session.info.pop("on_rollback", None)
    for action in session.info.pop("after_commit", []):
        action()


def _drop_after_commit(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint rolling back (begin_nested) leaves the outer transaction, and its hooks, alive.
    if previous_transaction.parent is not None:
        return
    session.info.pop("after_commit", None)
    for action in session.info.pop("on_rollback", []):
        action()


def dialect_insert(session: Session) -> Any:
    """INSERT with the database's own ON CONFLICT clauses (`on_conflict_do_nothing`/`_update`, the same API on both)."""
    return insert_for(session.get_bind().dialect.name)


def insert_for(dialect: str) -> Any:
    """`dialect_insert` by the dialect's name, for statements built once per dialect."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def utc_minute(column: Any, dialect: str) -> Any:
    """The UTC minute of a timestamp column as text, `YYYY-MM-DDTHH:MM`, in SQL."""
    from sqlalchemy import func

    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI')
    return func.strftime("%Y-%m-%dT%H:%M", column)


def utc_day(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp column, in SQL (SQLite keeps UTC text; PostgreSQL needs the zone)."""
    from sqlalchemy import func

    return func.date(func.timezone("UTC", column)) if dialect == "postgresql" else func.date(column)
