"""The accessibility and phone tests' fixtures: they run once, on SQLite (the `browser` fixture is in
tests/conftest.py), against a real server with a shop in it, or with nothing made yet."""

from __future__ import annotations

import shutil

import pytest

from tests.a11y.helpers import World, build_empty_world, build_shop_world


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path, migrated_sqlite_file):
    """Browser tests run once, on the embedded default; the API suite covers PostgreSQL."""
    shutil.copyfile(migrated_sqlite_file, tmp_path / "vetrina.db")
    return f"sqlite:///{tmp_path / 'vetrina.db'}"


@pytest.fixture
def settings(settings):
    # The overlay card is decided from fresh campaign figures (in production a process keeps them for 2 s).
    return settings.model_copy(update={"ads_campaign_cache_s": 0})


@pytest.fixture
def shop_world(live_server, make_account, media_dir) -> World:
    return build_shop_world(live_server.url, live_server.ctx, make_account, media_dir)


@pytest.fixture
def empty_world(live_server, make_account) -> World:
    return build_empty_world(live_server.url, make_account)
