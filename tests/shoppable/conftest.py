"""Shoppable fixtures: a ready video to tag and to send player events about (no transcode needed)."""

from __future__ import annotations

import pytest

from tests.helpers import ready_video_row
from vetrina.accounts.models import Role


@pytest.fixture
def video(ctx, make_account):
    """A ready 60 s video row (the tag tests need no transcode); its owner is a merchant."""
    owner = make_account(Role.merchant)
    with ctx.db.session() as session:
        row = ready_video_row(owner.user.id)
        session.add(row)
        session.flush()
        return owner, row.id
