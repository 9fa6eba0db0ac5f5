"""Shoppable fixtures: a ready video to tag and to send player events about (no transcode needed)."""

from __future__ import annotations

import pytest

from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.media.models import Video, VideoStatus


@pytest.fixture
def video(ctx, make_account):
    """A ready 60 s video row (the tag tests need no transcode); its owner is a merchant."""
    owner = make_account(Role.merchant)
    with ctx.db.session() as session:
        row = Video(
            owner_id=owner.user.id,
            title="Lookbook",
            description="",
            status=VideoStatus.ready.value,
            progress=1.0,
            duration_s=60.0,
            width=1280,
            height=720,
            frame_rate=30.0,
            has_audio=True,
            renditions=[],
            published=True,
            allow_merchant_tags=False,
            output_key="videos/x/hls-y",
            created_at=clock.now(),
        )
        session.add(row)
        session.flush()
        return owner, row.id
