"""Accounts: argon2 hashes, hashed tokens, sessions that expire, one account per email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import ApiToken, LoginSession, Role
from vetrina.errors import Conflict, InvalidInput, NotAuthenticated


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
        assert accounts.user_for_api_token(session, token)[0].id == user.id
        assert accounts.user_for_api_token(session, token + "x") is None


def test_sessions_expire_and_end(ctx):
    with ctx.db.session() as session:
        user = accounts.create_user(session, "s@example.com", "password one")
        session.flush()
        cookie = accounts.start_session(session, user, days=14)
    with ctx.db.session() as session:
        assert session.scalars(select(LoginSession.token_hash)).one() != cookie
        assert accounts.user_for_session(session, cookie).id == user.id
    later = clock.now() + timedelta(days=15)
    clock.set_clock(lambda: later)
    with ctx.db.session() as session:
        assert accounts.user_for_session(session, cookie) is None
    clock.set_clock(None)
    with ctx.db.session() as session:
        accounts.end_session(session, cookie)
    with ctx.db.session() as session:
        assert accounts.user_for_session(session, cookie) is None
