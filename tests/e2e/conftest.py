"""The end-to-end tests' database: they run once, on SQLite (the `browser` fixture is in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """End-to-end runs once, on the embedded default; the API suite covers PostgreSQL."""
    return f"sqlite:///{tmp_path / 'vetrina.db'}"
