"""The end-to-end tests' database: they run once, on SQLite (the `browser` fixture is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import served
from vetrina.runtime import build_context
from vetrina.settings import Settings


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """End-to-end runs once, on the embedded default; the API suite covers PostgreSQL."""
    return f"sqlite:///{tmp_path / 'vetrina.db'}"


@pytest.fixture
def unfunded_live(settings: Settings) -> Iterator[str]:
    """A real server whose operator configured no funding provider."""
    site = build_context(settings.model_copy(update={"funding_providers": []}))
    try:
        with served(site) as url:
            yield url
    finally:
        site.close()
