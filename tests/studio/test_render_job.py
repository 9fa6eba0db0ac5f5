"""The render job's lease and recovery: one worker renders a spot; a silent worker is taken over; a spot
nobody took is queued again; products that vanish before publishing fail the spot and leave nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import wait_for
from tests.studio.helpers import product_with_photos, spot_body
from vetrina import clock, leases
from vetrina.accounts.models import Role
from vetrina.leases import LeaseLost
from vetrina.media.models import Video
from vetrina.shoppable.models import ProductTag
from vetrina.studio import service as studio
from vetrina.studio.models import Spot
from vetrina.studio.voice import NO_SPEECH_NOTE


@pytest.fixture
def settings(settings):
    small = {"studio_short_side": 144, "ladder_heights": [144], "studio_preview_short_side": 144}
    return settings.model_copy(update=small)


@pytest.fixture
def queued_spot(client, make_account, ctx):
    """A merchant's spot, accepted while no worker runs."""
    merchant = make_account(Role.merchant)
    mug = product_with_photos(client, merchant, photos=1)
    ctx.queue.stop_in_process()
    accepted = client.post("/api/v1/studio/spots", headers=merchant.auth, json=spot_body(mug["id"]))
    assert accepted.status_code == 202, accepted.text
    return merchant, mug, accepted.json()["id"]


def _spot(ctx, spot_id: int) -> Spot:
    with ctx.db.session() as session:
        spot = session.get(Spot, spot_id)
        session.expunge(spot)
        return spot


def test_one_worker_holds_a_render_and_a_silent_one_is_taken_over(queued_spot, ctx):
    _merchant, _mug, spot_id = queued_spot
    first = leases.claim(ctx, Spot, spot_id)
    assert first is not None and _spot(ctx, spot_id).status == "rendering"
    assert leases.claim(ctx, Spot, spot_id) is None, "a live lease is not taken"
    clock.set_clock(lambda: datetime.now(UTC) + timedelta(seconds=ctx.settings.lease_stall_seconds + 1))
    second = leases.claim(ctx, Spot, spot_id)
    assert second not in (None, first), "a silent lease is taken over"
    with ctx.db.session(write=True) as session, pytest.raises(LeaseLost):
        leases.renew(session, Spot, spot_id, first)
    assert _spot(ctx, spot_id).attempts == 2


def test_a_render_interrupted_too_often_fails(queued_spot, ctx):
    _merchant, _mug, spot_id = queued_spot
    later = datetime.now(UTC)
    for _ in range(ctx.settings.lease_max_attempts):
        assert leases.claim(ctx, Spot, spot_id) is not None
        later += timedelta(seconds=ctx.settings.lease_stall_seconds + 1)
        clock.set_clock(lambda moment=later: moment)
    assert leases.claim(ctx, Spot, spot_id) is None
    spot = _spot(ctx, spot_id)
    assert spot.status == "failed" and "interrupted attempts" in spot.error


def test_spots_nobody_took_or_whose_worker_went_quiet_are_queued_again(queued_spot, ctx):
    _merchant, _mug, spot_id = queued_spot
    before = ctx.queue.pending_count()
    assert leases.requeue_stalled(ctx) == {}
    assert ctx.queue.pending_count() == before, "a fresh queued spot is still waiting its turn"
    waited = leases.leased_kind(studio.RENDER_JOB).never_claimed_after + timedelta(minutes=1)
    clock.set_clock(lambda: datetime.now(UTC) + waited)
    assert leases.requeue_stalled(ctx) == {studio.RENDER_JOB: [spot_id]}
    assert ctx.queue.pending_count() == before + 1


def test_a_product_deleted_before_publishing_fails_the_spot_and_leaves_nothing(queued_spot, client, ctx):
    merchant, mug, spot_id = queued_spot
    assert client.delete(f"/api/v1/products/{mug['id']}", headers=merchant.auth).status_code == 204
    studio.render_spot_job(ctx, spot_id)
    spot = client.get(f"/api/v1/studio/spots/{spot_id}", headers=merchant.auth).json()
    assert spot["status"] == "failed" and spot["video_id"] is None and str(mug["id"]) in spot["error"]
    with ctx.db.session() as session:
        assert session.query(Video).count() == 0 and session.query(ProductTag).count() == 0
    assert not list(ctx.store.root.glob("videos/*"))


def test_without_a_speech_engine_the_voice_over_is_skipped_and_the_merchant_told(client, make_account, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # as on a server without espeak-ng
    merchant = make_account(Role.merchant)
    mug = product_with_photos(client, merchant, photos=1)
    body = spot_body(mug["id"], voiceover=True)
    preview = client.post("/api/v1/studio/previews", headers=merchant.auth, json=body)
    assert preview.status_code == 200 and preview.json()["notes"] == [NO_SPEECH_NOTE]
    accepted = client.post("/api/v1/studio/spots", headers=merchant.auth, json=body)
    assert accepted.status_code == 202

    def finished():
        spot = client.get(f"/api/v1/studio/spots/{accepted.json()['id']}", headers=merchant.auth).json()
        return spot if spot["status"] != "rendering" else None

    spot = wait_for(finished, timeout_s=120, message="the spot")
    assert spot["status"] == "ready" and spot["notes"] == [NO_SPEECH_NOTE]


def test_studio_load_is_bounded_per_process_and_per_merchant(client, make_account, ctx, monkeypatch):
    merchant = make_account(Role.merchant)
    mug = product_with_photos(client, merchant, photos=1)
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(studio, "_preview_slots", slots)
    slots.acquire()  # another preview is rendering
    busy = client.post("/api/v1/studio/previews", headers=merchant.auth, json=spot_body(mug["id"]))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "3"
    slots.release()
    assert client.post("/api/v1/studio/previews", headers=merchant.auth, json=spot_body(mug["id"])).status_code == 200
    ctx.queue.stop_in_process()
    for _ in range(studio.MAX_ACTIVE_SPOTS):
        assert client.post("/api/v1/studio/spots", headers=merchant.auth, json=spot_body(mug["id"])).status_code == 202
    refused = client.post("/api/v1/studio/spots", headers=merchant.auth, json=spot_body(mug["id"]))
    assert refused.status_code == 429 and refused.headers["retry-after"] == "15"
    other = make_account(Role.merchant)
    own = product_with_photos(client, other, photos=1)
    assert client.post("/api/v1/studio/spots", headers=other.auth, json=spot_body(own["id"])).status_code == 202
