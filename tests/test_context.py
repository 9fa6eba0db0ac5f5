"""The one Context: caches made once per process, forgotten by the domain functions that change their data
(after commit, never before), and checks that no caller can skip by leaving an argument out."""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta

import pytest

from tests.helpers import REDIS_URL, ready_video_row, redis_skip_reason, wait_for
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.ads.decide import CampaignBook
from vetrina.catalog import service as catalog
from vetrina.commerce import service as orders
from vetrina.context import Topic
from vetrina.errors import UnavailableHere
from vetrina.media import service as media
from vetrina.money import Money
from vetrina.rights import service as rights
from vetrina.rights.service import RightsCache
from vetrina.runtime import build_context
from vetrina.shoppable import service as shoppable
from vetrina.shoppable.service import TimelineCache


def _ready_video(ctx, owner_id: int) -> int:
    with ctx.db.session() as session:
        row = ready_video_row(owner_id, duration_s=30.0)
        session.add(row)
        session.flush()
        return row.id


def _product(ctx, merchant) -> int:
    with ctx.db.session() as session:
        return catalog.create_product(
            session,
            merchant,
            title="Mug",
            description="",
            price=Money(1800, "EUR"),
            stock=5,
            variants=[],
            published=True,
        ).id


def _licence_in_italy(ctx, partner, video_id: int, uses: list[str]) -> None:
    now = clock.now()
    with ctx.db.session(write=True) as session:
        rights.create_licence(
            ctx,
            session,
            partner,
            video_id,
            distributor="Globe Films",
            territories=["IT"],
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            uses=uses,
        )


def _timeline_tags(ctx, video_id: int) -> int:
    with ctx.db.session() as session:
        return len(json.loads(shoppable.rendered_timeline(ctx, session, video_id, None).body)["tags"])


def test_one_cache_of_each_kind_per_context(ctx):
    assert ctx.caches.get(TimelineCache) is ctx.caches.get(TimelineCache)
    assert ctx.caches.get(TimelineCache).ttl_s == ctx.settings.timeline_cache_s
    assert ctx.caches.get(RightsCache).ttl_s == ctx.settings.rights_cache_s
    assert ctx.caches.get(CampaignBook).ttl_s == ctx.settings.ads_campaign_cache_s
    assert ctx.queue.context is ctx and ctx.clock.now().tzinfo is not None


def test_a_topic_reaches_only_the_caches_that_listen_to_it(ctx):
    timelines, licences = ctx.caches.get(TimelineCache), ctx.caches.get(RightsCache)
    timelines.get_or_build(1, "en", lambda: (shoppable.RenderedTimeline(b"{}", '"a"'), True))
    licences._terms[1] = (float("inf"), [])
    ctx.caches.forget(Topic.licences, 1)
    assert timelines.fresh(1, "en") is not None and 1 not in licences._terms
    licences._terms[1] = (float("inf"), [])
    ctx.caches.forget(Topic.video, 1)  # a video change concerns both
    assert timelines.fresh(1, "en") is None and 1 not in licences._terms


def test_a_tag_change_drops_the_cached_timeline_after_commit_and_not_on_rollback(ctx, make_account):
    ctx.settings.timeline_cache_s = 3600.0  # only a forget can make the cache read again
    merchant = make_account(Role.merchant).user
    video_id, product_id = _ready_video(ctx, merchant.id), _product(ctx, merchant)
    assert _timeline_tags(ctx, video_id) == 0
    spec = shoppable.TagSpec(product_id=product_id, start_s=1.0, end_s=5.0)
    with pytest.raises(RuntimeError), ctx.db.session(write=True) as session:
        shoppable.create_tag(ctx, session, video_id, merchant, spec)
        raise RuntimeError("rolled back")
    assert _timeline_tags(ctx, video_id) == 0
    with ctx.db.session(write=True) as session:
        shoppable.create_tag(ctx, session, video_id, merchant, spec)
    assert _timeline_tags(ctx, video_id) == 1


def test_unpublishing_a_video_drops_its_cached_timeline(ctx, make_account):
    ctx.settings.timeline_cache_s = 3600.0
    merchant = make_account(Role.merchant).user
    video_id = _ready_video(ctx, merchant.id)
    _timeline_tags(ctx, video_id)
    with ctx.db.session(write=True) as session:
        media.update_video(ctx, session, video_id, merchant, {"published": False})
    with pytest.raises(Exception, match="no video"), ctx.db.session() as session:
        shoppable.rendered_timeline(ctx, session, video_id, None)


def test_a_new_licence_is_asked_at_once_though_the_rights_cache_is_long_lived(ctx, make_account):
    ctx.settings.rights_cache_s = 3600.0
    partner = make_account(Role.partner).user
    video_id = _ready_video(ctx, partner.id)
    with ctx.db.session() as session:
        assert rights.check(ctx, session, video_id, "CN", "stream").allowed  # not rights-managed yet
    _licence_in_italy(ctx, partner, video_id, ["stream", "commerce"])
    with ctx.db.session() as session:
        assert not rights.check(ctx, session, video_id, "CN", "stream").allowed
        assert rights.check(ctx, session, video_id, "IT", "stream").allowed


def test_an_order_from_a_video_always_asks_the_licence(ctx, make_account):
    partner, merchant, buyer = (make_account(r).user for r in (Role.partner, Role.merchant, Role.viewer))
    video_id, product_id = _ready_video(ctx, partner.id), _product(ctx, merchant)
    _licence_in_italy(ctx, partner, video_id, ["stream"])  # not for commerce, anywhere
    source = orders.OrderSource(video_id=video_id, second=3.0)
    with pytest.raises(UnavailableHere), ctx.db.session(write=True) as session:
        orders.create_order(ctx, session, buyer, [orders.ItemSpec(product_id, 1)], territory="IT", source=source)
    with pytest.raises(TypeError, match="territory"), ctx.db.session(write=True) as session:
        orders.create_order(ctx, session, buyer, [orders.ItemSpec(product_id, 1)], source=source)  # type: ignore[call-arg]


@pytest.mark.parametrize("bus", [True, False], ids=["redis", "no-redis"])
def test_a_change_on_one_node_reaches_the_others_caches_within_a_second(settings, make_account, bus):
    """Two web nodes over one database: with Redis, a tag added on one drops the other's cached timeline at once;
    without it, the other node keeps its copy until the time-to-live (an hour here) runs out."""
    if bus and (reason := redis_skip_reason()):
        pytest.skip(reason)
    shared = {"timeline_cache_s": 3600.0, "queue_name": f"vtr-test-{secrets.token_hex(4)}"}
    if bus:
        shared["redis_url"] = REDIS_URL
    node_a = build_context(settings.model_copy(update=shared))
    node_b = build_context(settings.model_copy(update=shared), migrate=False)
    try:
        merchant = make_account(Role.merchant).user
        video_id, product_id = _ready_video(node_a, merchant.id), _product(node_a, merchant)
        assert _timeline_tags(node_b, video_id) == 0  # node B caches the timeline
        with node_a.db.session(write=True) as session:
            shoppable.create_tag(node_a, session, video_id, merchant, shoppable.TagSpec(product_id, 1.0, 5.0))
        if bus:
            wait_for(lambda: _timeline_tags(node_b, video_id) == 1, timeout_s=1.0, message="node B to hear")
        else:
            time.sleep(1.0)
            assert _timeline_tags(node_b, video_id) == 0
    finally:
        node_a.close()
        node_b.close()
