"""Accounts: argon2 hashes, hashed tokens, sessions that expire, one account per email."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Integer, column, delete, event, insert, select, table

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts import sign_ins
from vetrina.accounts.models import ApiToken, LoginSession, Role
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound


def test_passwords_are_stored_as_argon2id_hashes(ctx):
    with ctx.db.session() as session:
        user = accounts.create_user(session, " Ada@Example.COM ", "a long password", Role.merchant)
    assert user.email == "ada@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert "a long password" not in user.password_hash
    with ctx.db.session() as session:
        assert accounts.authenticate(session, "ADA@example.com", "a long password").id == user.id
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(session, "ada@example.com", "wrong password")
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(session, "nobody@example.com", "a long password")


def test_one_account_per_email_and_valid_input_only(ctx):
    with ctx.db.session() as session:
        accounts.create_user(session, "taken@example.com", "password one")
    with ctx.db.session() as session:
        with pytest.raises(Conflict):
            accounts.create_user(session, "TAKEN@example.com", "password two")
        for email, password, role in [
            ("not-an-email", "password one", "viewer"),
            ("x@example.com", "short", "viewer"),
            ("x@example.com", "p" * 2000, "viewer"),
            ("x@example.com", "password one", "emperor"),
        ]:
            with pytest.raises(InvalidInput):
                accounts.create_user(session, email, password, role)


def test_api_tokens_are_stored_only_as_hashes(ctx):
    with ctx.db.session() as session:
        user = accounts.create_user(session, "t@example.com", "password one")
        session.flush()
        token = accounts.create_api_token(session, user, "laptop")
    with ctx.db.session() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert token not in stored and len(stored) == 1
        assert sign_ins.api_token_user(ctx, token).id == user.id
        assert sign_ins.api_token_user(ctx, token + "x") is None


def test_sessions_expire_and_end(ctx):
    with ctx.db.session() as session:
        user = accounts.create_user(session, "s@example.com", "password one")
        session.flush()
        cookie = accounts.start_session(session, user, timedelta(days=14))
    with ctx.db.session() as session:
        assert session.scalars(select(LoginSession.token_hash)).one() != cookie
        assert sign_ins.session_user(ctx, cookie).id == user.id
    later = clock.now() + timedelta(days=15)
    clock.set_clock(lambda: later)
    with ctx.db.session() as session:
        assert sign_ins.session_user(ctx, cookie) is None
    clock.set_clock(None)
    with ctx.db.session() as session:
        accounts.end_session(ctx, session, cookie)
    with ctx.db.session() as session:
        assert sign_ins.session_user(ctx, cookie) is None


def _user_with_sessions(ctx, email: str, count: int) -> tuple:
    with ctx.db.session() as session:
        user = accounts.create_user(session, email, "password one")
        session.flush()
        cookies = [accounts.start_session(session, user, timedelta(days=14)) for _ in range(count)]
    return user, cookies


def test_api_tokens_expire_and_are_refused_once_expired(ctx):
    with ctx.db.session() as session:
        user = accounts.create_user(session, "e@example.com", "password one")
        session.flush()
        row, token = accounts.issue_api_token(session, user, " laptop ", days=7)
        default = accounts.create_api_token(session, user, "cli")
    assert row.name == "laptop"
    assert row.expires_at - row.created_at == timedelta(days=7)
    with ctx.db.session() as session:
        assert sign_ins.api_token_user(ctx, token).id == user.id
        by_name = {t.name: t for t in accounts.list_api_tokens(session, user)}
        assert by_name["cli"].expires_at - by_name["cli"].created_at == timedelta(days=accounts.DEFAULT_TOKEN_DAYS)
    later = clock.now() + timedelta(days=7)
    clock.set_clock(lambda: later)
    with ctx.db.session() as session:
        assert sign_ins.api_token_user(ctx, token) is None
        assert sign_ins.api_token_user(ctx, default).id == user.id
        assert accounts.is_expired(session.get(ApiToken, row.id))


@pytest.mark.parametrize(
    "name, days, field",
    [
        ("", 30, "name"),
        ("   ", 30, "name"),
        ("n" * 101, 30, "name"),
        ("ok", 0, "expires_in_days"),
        ("ok", accounts.MAX_TOKEN_DAYS + 1, "expires_in_days"),
    ],
)
def test_a_token_needs_a_name_and_a_lifetime_within_bounds(ctx, name, days, field):
    with ctx.db.session() as session:
        user = accounts.create_user(session, "b@example.com", "password one")
        session.flush()
        with pytest.raises(InvalidInput) as refused:
            accounts.issue_api_token(session, user, name, days)
    assert refused.value.extra["field"] == field
    with ctx.db.session() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_tokens_are_listed_and_revoked_by_their_owner_only(ctx):
    with ctx.db.session() as session:
        owner = accounts.create_user(session, "o@example.com", "password one")
        other = accounts.create_user(session, "x@example.com", "password one")
        session.flush()
        mine, token = accounts.issue_api_token(session, owner, "mine")
        theirs, _ = accounts.issue_api_token(session, other, "theirs")
    with ctx.db.session() as session:
        assert [t.name for t in accounts.list_api_tokens(session, owner)] == ["mine"]
        for token_id in (theirs.id, 999_999):
            with pytest.raises(NotFound):
                accounts.revoke_api_token(ctx, session, owner, token_id)
    with ctx.db.session() as session:
        assert session.get(ApiToken, theirs.id) is not None
        accounts.revoke_api_token(ctx, session, owner, mine.id)
    with ctx.db.session() as session:
        assert sign_ins.api_token_user(ctx, token) is None
        assert accounts.list_api_tokens(session, owner) == []


def test_a_password_change_proves_the_current_one_and_ends_the_other_sessions(ctx):
    user, (kept, other) = _user_with_sessions(ctx, "p@example.com", 2)
    _, (someone_elses,) = _user_with_sessions(ctx, "q@example.com", 1)
    with ctx.db.session() as session:
        token = accounts.create_api_token(session, user)
    with ctx.db.session() as session:
        with pytest.raises(Forbidden):
            accounts.change_password(ctx, session, user, "wrong password", "a new password", kept)
        with pytest.raises(InvalidInput):
            accounts.change_password(ctx, session, user, "password one", "short", kept)
    with ctx.db.session() as session:
        assert sign_ins.session_user(ctx, other) is not None  # refusals end nothing
        assert accounts.change_password(ctx, session, user, "password one", "a new password", kept) == 1
    with ctx.db.session() as session:
        assert sign_ins.session_user(ctx, kept).id == user.id
        assert sign_ins.session_user(ctx, other) is None
        assert sign_ins.session_user(ctx, someone_elses) is not None
        assert sign_ins.api_token_user(ctx, token) is not None
        assert accounts.authenticate(session, "p@example.com", "a new password").id == user.id
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(session, "p@example.com", "password one")


def test_signing_out_everywhere_ends_every_session_of_the_user_only(ctx):
    user, cookies = _user_with_sessions(ctx, "r@example.com", 3)
    _, (someone_elses,) = _user_with_sessions(ctx, "s2@example.com", 1)
    with ctx.db.session() as session:
        assert accounts.end_all_sessions(ctx, session, user) == 3
    with ctx.db.session() as session:
        assert all(sign_ins.session_user(ctx, cookie) is None for cookie in cookies)
        assert sign_ins.session_user(ctx, someone_elses) is not None


def test_the_migration_gives_existing_tokens_their_creation_plus_the_lifetime(empty_database_url):
    """Tokens made before expiry existed (schema 0012) expire VETRINA_TOKEN_TTL_DAYS (90) after they were made."""
    from alembic import command
    from alembic.config import Config

    from vetrina.db import MIGRATIONS_DIR, Database, UTCDateTime

    db = Database(empty_database_url)
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = db.engine
    made = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
    try:
        command.upgrade(config, "0012")
        # The tables as they were at 0012, written with the same column types the application uses.
        users = table(
            "users",
            column("id", Integer()),
            column("email"),
            column("password_hash"),
            column("role"),
            column("created_at", UTCDateTime()),
        )
        tokens = table(
            "api_tokens",
            column("token_hash"),
            column("user_id", Integer()),
            column("name"),
            column("created_at", UTCDateTime()),
        )
        with db.engine.begin() as conn:
            conn.execute(
                insert(users).values(id=1, email="m@example.com", password_hash="x", role="viewer", created_at=made)
            )
            conn.execute(insert(tokens).values(token_hash="abc", user_id=1, name="old", created_at=made))
        command.upgrade(config, "0013")
        with db.session() as session:
            assert session.scalars(select(ApiToken.expires_at)).one() == made + timedelta(days=90)
    finally:
        db.dispose()


def test_a_sign_in_is_remembered_briefly_and_forgotten_when_revoked(ctx):
    """A process answers who a token belongs to from memory for VETRINA_SIGN_IN_CACHE_S; a revocation made through
    Vetrina is honoured at once, one made behind its back (another process without Redis) within that time."""
    ctx.settings.sign_in_cache_s = 0.5
    with ctx.db.session() as session:
        user = accounts.create_user(session, "c@example.com", "password one")
        session.flush()
        first, token = accounts.issue_api_token(session, user, "one")
        _, other = accounts.issue_api_token(session, user, "two")
    seen = sign_ins.api_token_user(ctx, token)
    again = sign_ins.api_token_user(ctx, token)
    assert seen.id == again.id == user.id and seen is not again  # each request its own User
    with ctx.db.session(write=True) as session:
        session.execute(delete(ApiToken).where(ApiToken.token_hash == accounts.token_hash(other)))
    assert sign_ins.api_token_user(ctx, other) is None  # never remembered: refused at once
    with ctx.db.session(write=True) as session:
        accounts.revoke_api_token(ctx, session, user, first.id)
    assert sign_ins.api_token_user(ctx, token) is None  # revoked through Vetrina: forgotten on commit

    with ctx.db.session() as session:
        _, third = accounts.issue_api_token(session, user, "three")
    assert sign_ins.api_token_user(ctx, third) is not None
    with ctx.db.session(write=True) as session:
        session.execute(delete(ApiToken).where(ApiToken.token_hash == accounts.token_hash(third)))
    assert sign_ins.api_token_user(ctx, third) is not None  # deleted behind our back: remembered a moment
    time.sleep(0.6)
    assert sign_ins.api_token_user(ctx, third) is None


def test_a_sign_in_read_before_a_revocation_is_not_remembered_after_it():
    """A request that read a sign-in just before it was revoked must not put it back once the revocation's forget
    has run (the two interleave in any order)."""
    cache = sign_ins.SignInCache(ttl_s=60)
    entry = sign_ins.SignedIn(
        7, "a@example.com", "!", "viewer", clock.now(), None, clock.now() + timedelta(days=1), None, 0
    )
    read_at = cache.generation()
    cache.forget(7)  # the revocation commits while the request is between its read and its put
    cache.put("token:x", replace(entry, read_at=time.monotonic()), read_at)
    assert cache.get("token:x") is None
    cache.put("token:x", replace(entry, read_at=time.monotonic()), cache.generation())
    assert cache.get("token:x") is not None


def test_many_tokens_first_used_at_once_write_their_last_use_together(ctx):
    """A flash sale's thousand buyers each use their token for the first time in the same second: their last-used
    stamps are written together, not in a write transaction each, and none is lost."""
    with ctx.db.session() as session:
        user = accounts.create_user(session, "many@example.com", "password one")
        session.flush()
        tokens = [accounts.issue_api_token(session, user, f"t{i}")[1] for i in range(40)]
    stamps: list[str] = []

    def listener(_conn, _cursor, sql: str, *_args) -> None:
        if sql.lstrip().upper().startswith("UPDATE API_TOKENS"):
            stamps.append(sql)

    event.listen(ctx.db.engine, "before_cursor_execute", listener)
    try:
        assert all(sign_ins.api_token_user(ctx, token).id == user.id for token in tokens)
        sign_ins.write_token_uses(ctx)  # what the next due use, the token listing or shutdown writes
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", listener)
    assert 1 <= len(stamps) <= 2, stamps
    with ctx.db.session() as session:
        used = session.scalars(select(ApiToken.last_used_at).where(ApiToken.user_id == user.id)).all()
    assert len(used) == 40 and all(at is not None for at in used)
