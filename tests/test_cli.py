"""The command line, run as a newcomer runs it: `python -m vetrina ...` in a fresh data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from vetrina.accounts import service as accounts
from vetrina.accounts import sign_ins
from vetrina.live import rtmp
from vetrina.runtime import build_context
from vetrina.settings import Settings


def vetrina(data_dir, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "VETRINA_DATA_DIR": str(data_dir), "VETRINA_X264_PRESET": "ultrafast"}
    return subprocess.run(
        [sys.executable, "-m", "vetrina", *args], env=env, capture_output=True, text=True, timeout=600, input=stdin
    )


def test_users_and_tokens(tmp_path):
    created = vetrina(tmp_path, "users", "create", "Shop@Example.com", "--role", "merchant", "--password", "password 1")
    assert created.returncode == 0, created.stderr
    assert "created merchant shop@example.com" in created.stdout
    again = vetrina(tmp_path, "users", "create", "shop@example.com", "--password", "password 1")
    assert again.returncode == 2 and "already exists" in again.stderr
    bad_role = vetrina(tmp_path, "users", "create", "x@example.com", "--role", "emperor", "--password", "password 1")
    assert bad_role.returncode == 2
    no_password = vetrina(tmp_path, "users", "create", "y@example.com", stdin="")
    assert no_password.returncode == 2 and "--password" in no_password.stderr

    issued = vetrina(tmp_path, "tokens", "create", "shop@example.com")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("vtr_")
    ctx = build_context(Settings(data_dir=tmp_path))
    try:
        assert sign_ins.api_token_user(ctx, token).email == "shop@example.com"
    finally:
        ctx.close()
    missing = vetrina(tmp_path, "tokens", "create", "ghost@example.com")
    assert missing.returncode == 2 and "no user" in missing.stderr
    week = vetrina(tmp_path, "tokens", "create", "shop@example.com", "--name", "week", "--days", "7")
    assert week.returncode == 0, week.stderr
    never = vetrina(tmp_path, "tokens", "create", "shop@example.com", "--days", "0")
    assert never.returncode == 2 and "1 to 3650 days" in never.stderr
    ctx = build_context(Settings(data_dir=tmp_path))
    try:
        user = sign_ins.api_token_user(ctx, token)
        with ctx.db.session() as session:
            lifetimes = {t.name: t.expires_at - t.created_at for t in accounts.list_api_tokens(session, user)}
        assert lifetimes == {"cli": timedelta(days=90), "week": timedelta(days=7)}
    finally:
        ctx.close()


@pytest.mark.slow
def test_demo_seeds_streamable_films_and_is_idempotent(tmp_path):
    first = vetrina(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert "merchant@vetrina.demo" in first.stdout
    second = vetrina(tmp_path, "demo")
    assert second.returncode == 0, second.stderr
    ctx = build_context(Settings(data_dir=tmp_path))
    try:
        from sqlalchemy import select

        from vetrina.accounts.models import User
        from vetrina.media.models import Video

        with ctx.db.session() as session:
            videos = session.scalars(select(Video)).all()
            assert len(videos) == 7  # three films, the studio spot, the lookbook and the partner's two titles
            assert {v.status for v in videos} == {"ready"}
            assert session.query(User).count() == 4
            for video in videos:
                assert (ctx.store.path(video.output_key) / "master.m3u8").exists()
            from vetrina.catalog.models import Product
            from vetrina.commerce.models import Order
            from vetrina.payments import ledger

            assert session.query(Product).count() == 3
            assert [o.status for o in session.scalars(select(Order))] == ["TRADE_FINISHED"]
            assert ledger.check_ledger(session).ok
            from vetrina.payments.models import AdminCredit, Payout

            # Money that left and money from outside a provider, each once though the demo ran twice.
            assert [(p.state, p.amount) for p in session.scalars(select(Payout))] == [("paid", 2_000)]
            assert [c.reference for c in session.scalars(select(AdminCredit))] == ["DEMO-BANK-TRANSFER-0001"]
            from vetrina.shoppable.models import ProductTag
            from vetrina.studio.models import Spot

            [spot] = session.scalars(select(Spot)).all()
            assert spot.status == "published" and spot.video_id in {v.id for v in videos}
            # Three tags in the first film, the mug in "Colour Drift", and the spot's three products over its length.
            assert session.query(ProductTag).count() == 7
            assert session.query(ProductTag).filter(ProductTag.video_id == spot.video_id).count() == 3
            from vetrina.catalog.models import Channel
            from vetrina.shoppable.models import AutotagRun, TagProposal

            [run] = session.scalars(select(AutotagRun)).all()
            # The lookbook shows the shop's products four times; auto-tagging proposes them (none accepted yet).
            assert run.status == "done" and session.query(TagProposal).count() == 4
            from vetrina.ads.models import Campaign

            # The shop advertises on its own film: a pre-roll of its spot and an overlay card of its mug.
            assert sorted((c.kind, c.status) for c in session.scalars(select(Campaign))) == [
                ("linear", "active"),
                ("overlay", "active"),
            ]
            from vetrina.media.models import VideoSubtitle

            # The first film speaks three languages in its subtitles.
            subtitled = session.scalars(select(VideoSubtitle).order_by(VideoSubtitle.language)).all()
            assert [(s.video_id, s.language, s.cue_count) for s in subtitled] == [
                (1, "en", 5),
                (1, "it", 5),
                (1, "zh-Hans", 5),
            ]
            [channel] = session.scalars(select(Channel)).all()
            assert channel.handle == "vetrina-demo-shop" and channel.banner_key
            from vetrina.partners.models import FeedRun
            from vetrina.rights.models import Licence

            # The studio's feed: imported, then found unchanged by the second demo; one title in two territories.
            runs = session.scalars(select(FeedRun).order_by(FeedRun.id)).all()
            assert [(r.status, r.created, r.unchanged, r.failed) for r in runs] == [
                ("done", 2, 0, 0),
                ("done", 0, 2, 0),
            ]
            licences = sorted(
                (lic.distributor, lic.rest_of_world, tuple(lic.territories), lic.from_feed)
                for lic in session.scalars(select(Licence))
            )
            from vetrina.analytics.rollups import seconds

            # A simulated audience watched the first film: its selling seconds have something to show.
            audience = seconds(session, 1, 24)
            assert audience.viewers[0] == 60 and audience.viewers[0] >= audience.viewers[-1]
            assert sum(audience.clicked) > 0 and sum(audience.purchases) > 0
            assert licences == [
                ("Dragon Pictures", False, ("CN",), False),
                ("Globe Films", True, (), False),
                ("studio@vetrina.demo", False, ("DE", "ES", "FR", "IT"), True),
            ]
            from vetrina.live.models import LiveShow

            # One live show of the shop's three products, scheduled once; its key is printed when it is made.
            [show] = session.scalars(select(LiveShow)).all()
            assert show.status == "scheduled" and len(show.product_ids) == 3
            assert f"{ctx.settings.live_rtmp_url}/live_" in first.stdout
            assert "/live_" not in second.stdout
    finally:
        ctx.close()


def test_the_rtmp_config_calls_this_deployment_back_on_its_secret_path(tmp_path):
    printed = vetrina(tmp_path, "live", "rtmp-config", "--vetrina-url", "http://10.0.0.5:8000/", "--listen", "1936")
    assert printed.returncode == 0, printed.stderr
    ctx = build_context(Settings(data_dir=tmp_path))
    try:
        secret = rtmp.callback_secret(ctx.settings)
    finally:
        ctx.close()
    assert f"on_publish http://10.0.0.5:8000/rtmp/{secret}/on_publish;" in printed.stdout
    assert "listen 1936;" in printed.stdout
    assert "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;" in printed.stdout
