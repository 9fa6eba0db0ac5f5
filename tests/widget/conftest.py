"""Fixtures of the widget's browser tests: one Vetrina with one short, tagged, transcoded video per module (a
transcode takes seconds), and a shop's own site on another loopback origin (127.0.0.2) whose pages carry the widget's
script tag."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import PASSWORD, Account, OtherSite, make_clip, other_site, served, wait_for
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.context import Context
from vetrina.runtime import build_context
from vetrina.settings import Settings


@dataclass
class WidgetShop:
    """A Vetrina serving `url`, whose merchant's channel `handle` has one ready video with a shirt tagged in it."""

    url: str
    ctx: Context
    merchant: Account
    handle: str
    video_id: int
    shirt: dict


@pytest.fixture(scope="module")
def widget_shop(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_file: Path, media_dir: Path):
    folder = tmp_path_factory.mktemp("widget")
    shutil.copyfile(migrated_sqlite_file, folder / "vetrina.db")
    settings = Settings(
        data_dir=folder / "data",
        database_url=f"sqlite:///{folder / 'vetrina.db'}",
        secret_key="test-secret",
        x264_preset="ultrafast",
        job_poll_max_s=0.2,
        ladder_heights=[360],
        segment_seconds=2,
    )
    ctx = build_context(settings)
    try:
        with ctx.db.session() as session:
            user = accounts.create_user(session, f"shop-{secrets.token_hex(4)}@example.com", PASSWORD, Role.merchant)
            session.flush()
            merchant = Account(user=user, token=accounts.create_api_token(session, user))
        clip = make_clip(media_dir / "widget-8s.mp4", 8, size="640x360")
        with served(ctx) as url, httpx.Client(base_url=url, timeout=30) as http, clip.open("rb") as handle:
            channel = http.get("/api/v1/me/channel", headers=merchant.auth).json()
            upload = {"file": ("c.mp4", handle)}
            video_id = http.post(
                "/api/v1/videos", headers=merchant.auth, data={"title": "Summer looks"}, files=upload
            ).json()["id"]
            shirt = http.post(
                "/api/v1/products",
                headers=merchant.auth,
                json={"title": "Linen shirt", "price": {"amount": 5900, "currency": "EUR"}, "stock": 5},
            ).json()
            wait_for(
                lambda: http.get(f"/api/v1/videos/{video_id}", headers=merchant.auth).json()["status"] == "ready",
                timeout_s=180,
                message="the video to be ready",
            )
            tagged = http.post(
                f"/api/v1/videos/{video_id}/tags",
                headers=merchant.auth,
                json={"product_id": shirt["id"], "start_s": 0.5, "end_s": 7.5},
            )
            assert tagged.status_code == 201, tagged.text
            yield WidgetShop(url, ctx, merchant, channel["handle"], video_id, shirt)
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def shop_site() -> Iterator[OtherSite]:
    """A shop's own site on 127.0.0.2: `add(path, html)` serves a page there; `origin` is the site's origin."""
    with other_site("127.0.0.2") as site:
        yield site
