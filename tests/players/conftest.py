"""The third-party players' tests run once, on SQLite, as the other browser tests do (`browser` is in
tests/conftest.py); each gets a transcoded film with a product moment, a pre-roll, a mid-roll and a spot for them."""

from __future__ import annotations

import pytest

from tests.players.helpers import film_with_breaks


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'vetrina.db'}"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"ladder_heights": [240]})


@pytest.fixture
def film(live_server, make_account, media_dir):
    return film_with_breaks(live_server, make_account, media_dir)
