"""Subtitles' tests: a ready video row (60 s, no ladder) for what needs no transcode, and a transcoded 6 s film for
what its playlists carry."""

from __future__ import annotations

import pytest

from tests.helpers import make_clip, ready_video_row, wait_for
from vetrina.accounts.models import Role


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"ladder_heights": [240]})


@pytest.fixture
def owner(make_account):
    return make_account(Role.merchant)


@pytest.fixture
def video_id(ctx, owner) -> int:
    """A ready, published 60 s video of `owner`'s, written directly (no ladder)."""
    with ctx.db.session(write=True) as session:
        video = ready_video_row(owner.user.id)
        session.add(video)
        session.flush()
        return video.id


@pytest.fixture
def film(client, owner, media_dir) -> int:
    """A transcoded 6 s film of `owner`'s."""
    clip = make_clip(media_dir / "subtitles-6s.mp4", 6, size="426x240")
    with clip.open("rb") as handle:
        accepted = client.post(
            "/api/v1/videos", headers=owner.auth, data={"title": "Subtitled"}, files={"file": ("c.mp4", handle)}
        )
    assert accepted.status_code == 202, accepted.text
    film_id = accepted.json()["id"]
    wait_for(lambda: client.get(f"/api/v1/videos/{film_id}").json()["status"] == "ready", timeout_s=120)
    return film_id
