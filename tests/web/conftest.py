"""Fixtures of the web tests: the API as schemathesis sees it, and a caller of each role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.context import Context
from vetrina.web.app import create_app

ANONYMOUS = "anonymous"


@pytest.fixture
def fuzzed_api(ctx: Context) -> schemathesis.BaseSchema:
    """The app's own /openapi.json, loaded by schemathesis over the app in-process (no job worker runs)."""
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(ctx))


@pytest.fixture
def fresh_callers(ctx: Context, make_account) -> Callable[[], dict[str, dict[str, str]]]:
    """Each call gives the headers of an anonymous caller and of one account of each role, with new tokens of the
    same accounts (signing up a user per call would spend the run hashing passwords)."""
    users = {role: make_account(role).user for role in Role}

    def callers() -> dict[str, dict[str, str]]:
        with ctx.db.session() as session:
            tokens = {str(role): accounts.create_api_token(session, user) for role, user in users.items()}
        return {ANONYMOUS: {}} | {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}

    return callers
