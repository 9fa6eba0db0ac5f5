"""Auto-tagging with real footage, real OpenCV and a real job queue: products placed in generated video at
known times and places are found (precision and recall floors), proposals are accepted or rejected by those
entitled to, and bad catalogue input is reported rather than fatal."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import wait_for
from vetrina.accounts.models import Role
from vetrina.shoppable.autotag import service as autotag
from vetrina.shoppable.autotag.matcher import FeatureMatcher, Reference
from vetrina.shoppable.autotag.recognize import RecognitionSettings, recognize
from vetrina.shoppable.autotag.synthetic import Appearance, box_iou, make_footage, packshot, score
from vetrina.shoppable.autotag.tracks import TrackSettings
from vetrina.shoppable.models import AutotagRun

SCENES = [
    (4.0, [Appearance(0, 0.3, 3.5, (0.35, 0.5), (0.03, 0.0), 0.25, angle=12)]),
    (
        4.0,
        [
            Appearance(1, 0.5, 3.5, (0.7, 0.45), (-0.02, 0.01), 0.3, tilt=0.15, occlusion=0.2),
            Appearance(2, 0.2, 3.0, (0.25, 0.55), (0.0, -0.02), 0.2, angle=-15, blur=1.0),
        ],
    ),
    (3.0, []),
]


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> tuple[Path, list]:
    """11 s of 854x480 footage: three products shown, one shot with none."""
    path = tmp_path_factory.mktemp("autotag") / "footage.mp4"
    truths = make_footage(path, [packshot(i) for i in range(3)], SCENES, (854, 480), seed=3)
    return path, truths


def _references(seeds: list[int]) -> list[Reference]:
    return [Reference(seed, np.asarray(packshot(seed).convert("L"))) for seed in seeds]


def test_recognition_finds_the_products_shown_and_not_the_others(footage):
    path, truths = footage
    matcher = FeatureMatcher(_references([0, 1, 2, 50, 51, 52]))  # three never shown
    proposals = recognize(path, 11.0, matcher, RecognitionSettings(), TrackSettings())
    found = [(p.product_id, p.start_s, p.end_s, tuple(p.box[k] for k in "xywh")) for p in proposals]
    precision, recall = score(found, truths)
    assert precision >= 0.95 and recall >= 0.95, found
    assert {p.product_id for p in proposals} <= {0, 1, 2}
    for proposal in proposals:
        assert 0 <= proposal.start_s < proposal.end_s <= 11.0 and 0 < proposal.confidence <= 1
        assert all(proposal.start_s <= k["t"] <= proposal.end_s for k in proposal.keyframes)


def test_no_candidate_in_the_picture_means_no_proposals(footage):
    path, _ = footage
    proposals = recognize(path, 11.0, FeatureMatcher(_references([60, 61, 62])), RecognitionSettings(), TrackSettings())
    assert proposals == []


def test_plain_and_tiny_photos_cannot_be_references():
    blank = Reference(1, np.full((600, 400), 128, dtype=np.uint8))
    tiny = Reference(2, np.asarray(packshot(2).convert("L").resize((12, 16))))
    matcher = FeatureMatcher([blank, tiny, *_references([3])])
    assert matcher.usable_products == {3}


def test_long_runs_keep_a_bounded_number_of_keyframes_inside_their_span():
    from vetrina.shoppable.autotag.matcher import Detection
    from vetrina.shoppable.autotag.tracks import MAX_KEYFRAMES, build_proposals

    seen = [(i * 0.5, 0, [Detection(7, (0.1, 0.1, 0.2, 0.3), 0.9, 30)]) for i in range(1200)]  # 600 s
    [proposal] = build_proposals(seen, 400.0, TrackSettings())  # the video is shorter than the samples
    assert len(proposal.keyframes) == MAX_KEYFRAMES and proposal.end_s == 400.0
    assert all(proposal.start_s <= k["t"] <= proposal.end_s for k in proposal.keyframes)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"ladder_heights": [240]})


@pytest.fixture
def shop(client, make_account, footage):
    """A merchant's ready video of the footage and its three products, with photos; and a product without one."""
    path, _ = footage
    merchant = make_account(Role.merchant)
    with path.open("rb") as handle:
        video = client.post(
            "/api/v1/videos", headers=merchant.auth, data={"title": "Lookbook"}, files={"file": ("f.mp4", handle)}
        ).json()
    products = []
    for seed in range(3):
        item = client.post(
            "/api/v1/products",
            headers=merchant.auth,
            json={"title": f"Pack {seed}", "price": {"amount": 900, "currency": "EUR"}, "stock": 3},
        ).json()
        photo = {"file": ("p.jpg", _jpeg(packshot(seed)), "image/jpeg")}
        assert (
            client.post(f"/api/v1/products/{item['id']}/images", headers=merchant.auth, files=photo).status_code == 201
        )
        products.append(item)
    bare = client.post(
        "/api/v1/products",
        headers=merchant.auth,
        json={"title": "No photo", "price": {"amount": 900, "currency": "EUR"}, "stock": 3},
    ).json()
    plain = client.post(
        "/api/v1/products",
        headers=merchant.auth,
        json={"title": "Plain", "price": {"amount": 900, "currency": "EUR"}, "stock": 3},
    ).json()
    grey = {"file": ("g.jpg", _jpeg(Image.new("RGB", (400, 600), (128, 128, 128))), "image/jpeg")}
    assert client.post(f"/api/v1/products/{plain['id']}/images", headers=merchant.auth, files=grey).status_code == 201
    wait_for(
        lambda: client.get(f"/api/v1/videos/{video['id']}", headers=merchant.auth).json()["status"] == "ready",
        timeout_s=120,
        message="the video",
    )
    return merchant, video["id"], products, bare, plain


def ready_clip(client, merchant, clip: Path) -> int:
    """Another ready video of the merchant's, for tests that need several."""
    with clip.open("rb") as handle:
        video = client.post(
            "/api/v1/videos", headers=merchant.auth, data={"title": "More"}, files={"file": ("c.mp4", handle)}
        ).json()

    def ready() -> bool:
        return client.get(f"/api/v1/videos/{video['id']}", headers=merchant.auth).json()["status"] == "ready"

    wait_for(ready, timeout_s=60, message="the clip")
    return video["id"]


def _finish(client, account, video_id: int, body: dict | None = None) -> dict:
    started = client.post(f"/api/v1/videos/{video_id}/autotag", headers=account.auth, json=body)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]

    def done():
        run = client.get(f"/api/v1/videos/{video_id}/autotag/{run_id}", headers=account.auth).json()
        return run if run["status"] in ("done", "failed") else None

    return wait_for(done, timeout_s=120, message="the auto-tagging run")


def test_the_owner_runs_auto_tagging_and_accepts_or_rejects_what_it_proposes(client, shop, footage):
    merchant, video_id, products, _bare, _plain = shop
    _, truths = footage
    run = _finish(client, merchant, video_id)
    assert run["status"] == "done" and run["progress"] == 1.0 and run["proposals"] == 3, run
    assert any("no photo" in note for note in run["notes"]) and any("too plain" in note for note in run["notes"])
    proposals = client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=merchant.auth).json()
    by_product = {p["product_id"]: p for p in proposals}
    assert set(by_product) == {p["id"] for p in products}
    for seed, product in enumerate(products):
        truth = next(t for t in truths if t.product == seed)
        box = by_product[product["id"]]["box"]
        assert box_iou((box["x"], box["y"], box["w"], box["h"]), truth.box) >= 0.5

    first, second = by_product[products[0]["id"]], by_product[products[1]["id"]]
    adjusted = {"start_s": first["start_s"], "end_s": first["end_s"] - 0.5, "label": "Pack zero"}
    accepted = client.post(
        f"/api/v1/videos/{video_id}/tag-proposals/{first['id']}/accept", headers=merchant.auth, json=adjusted
    )
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted" and accepted.json()["tag_id"]
    again = client.post(f"/api/v1/videos/{video_id}/tag-proposals/{first['id']}/accept", headers=merchant.auth)
    assert again.status_code == 409
    rejected = client.post(f"/api/v1/videos/{video_id}/tag-proposals/{second['id']}/reject", headers=merchant.auth)
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    tags = client.get(f"/api/v1/videos/{video_id}/timeline").json()["tags"]
    assert [(t["product"]["id"], t["label"]) for t in tags] == [(products[0]["id"], "Pack zero")]
    assert tags[0]["end_s"] == pytest.approx(first["end_s"] - 0.5)

    rerun = _finish(client, merchant, video_id)
    assert rerun["proposals"] == 1  # what was decided is not proposed again
    states = sorted(
        p["state"] for p in client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=merchant.auth).json()
    )
    assert states == ["accepted", "proposed", "rejected"]
    only = _finish(client, merchant, video_id, {"product_ids": [products[2]["id"]]})
    assert only["proposals"] == 1


def test_auto_tagging_is_for_the_owner_and_for_merchants_the_owner_lets_tag(client, shop, make_account, ctx):
    merchant, video_id, products, _bare, _plain = shop
    rival, viewer = make_account(Role.merchant), make_account(Role.viewer)
    assert client.post(f"/api/v1/videos/{video_id}/autotag", headers=rival.auth).status_code == 403
    assert client.post(f"/api/v1/videos/{video_id}/autotag", headers=viewer.auth).status_code == 403
    assert client.post(f"/api/v1/videos/{video_id}/autotag").status_code == 401
    assert (
        client.post(
            f"/api/v1/videos/{video_id}/autotag", headers=merchant.auth, json={"product_ids": ["x"]}
        ).status_code
        == 422
    )
    assert client.post("/api/v1/videos/999999/autotag", headers=merchant.auth).status_code == 404
    run = _finish(client, merchant, video_id)
    assert client.get(f"/api/v1/videos/{video_id}/autotag/{run['run_id']}", headers=rival.auth).status_code == 404
    proposal = client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=merchant.auth).json()[0]
    decide = f"/api/v1/videos/{video_id}/tag-proposals/{proposal['id']}"
    assert client.post(f"{decide}/accept", headers=rival.auth).status_code == 403
    assert client.post(f"{decide}/reject", headers=rival.auth).status_code == 403
    assert client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=rival.auth).json() == []

    # Once the owner lets merchants tag, a rival may look for its own products, never for the owner's.
    assert (
        client.patch(
            f"/api/v1/videos/{video_id}", headers=merchant.auth, json={"allow_merchant_tags": True}
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/videos/{video_id}/autotag", headers=rival.auth, json={"product_ids": [products[0]["id"]]}
        ).status_code
        == 403
    )
    mine = client.post(
        "/api/v1/products",
        headers=rival.auth,
        json={"title": "Rival pack", "price": {"amount": 900, "currency": "EUR"}, "stock": 3},
    ).json()
    photo = {"file": ("p.jpg", _jpeg(packshot(2)), "image/jpeg")}  # the same pack as the owner's third product
    client.post(f"/api/v1/products/{mine['id']}/images", headers=rival.auth, files=photo)
    rival_run = _finish(client, rival, video_id)
    assert rival_run["proposals"] == 1
    [theirs] = client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=rival.auth).json()
    assert theirs["product_id"] == mine["id"]
    owner_sees = client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=merchant.auth).json()
    assert theirs["id"] in {p["id"] for p in owner_sees}


def test_channels_that_auto_tag_get_runs_for_new_videos_and_changed_catalogues(client, shop, ctx):
    merchant, video_id, products, _bare, _plain = shop
    ctx.queue.stop_in_process()
    assert autotag.autotag_sweep(ctx) == []  # the channel has not asked for it
    handle = client.get("/api/v1/me/channel", headers=merchant.auth).json()["handle"]
    assert client.patch(f"/api/v1/channels/{handle}", headers=merchant.auth, json={"auto_tag": True}).json()["auto_tag"]
    [run_id] = autotag.autotag_sweep(ctx)
    assert autotag.autotag_sweep(ctx) == []  # queued already
    autotag.autotag_job(ctx, run_id)
    with ctx.db.session() as session:
        assert session.get(AutotagRun, run_id).status == "done"
    assert autotag.autotag_sweep(ctx) == []  # nothing changed
    photo = {"file": ("p.jpg", _jpeg(packshot(9)), "image/jpeg")}
    client.post(f"/api/v1/products/{products[0]['id']}/images", headers=merchant.auth, files=photo)
    assert len(autotag.autotag_sweep(ctx)) == 1  # the catalogue changed


def test_the_tag_editor_page_runs_recognition_and_decides_proposals(client, shop, make_account):
    from tests.web.helpers import csrf_from, sign_in

    merchant, video_id, products, _bare, _plain = shop
    sign_in(client, merchant.user.email)
    page = client.get(f"/videos/{video_id}/tags")
    assert page.status_code == 200 and "No open proposals." in page.text
    assert f'href="/videos/{video_id}/tags"' in client.get(f"/watch/{video_id}").text
    token = csrf_from(page.text)
    assert client.post(f"/videos/{video_id}/autotag", data={"csrf_token": "forged"}).status_code == 403
    assert (
        client.post(f"/videos/{video_id}/autotag", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )

    def proposed():
        text = client.get(f"/videos/{video_id}/tags").text
        return text if 'data-status="done"' in text else None

    text = wait_for(proposed, timeout_s=120, message="the run to finish")
    assert text.count('class="proposal"') == 3 and "Pack 0" in text
    first = client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=merchant.auth).json()[0]
    form = {"csrf_token": token, "start_s": "1.0", "end_s": "2.5"}
    accepted = client.post(f"/videos/{video_id}/tag-proposals/{first['id']}/accept", data=form, follow_redirects=False)
    assert accepted.status_code == 303 and "Tagged" in accepted.headers["location"]
    [tag] = client.get(f"/api/v1/videos/{video_id}/tags").json()
    assert (tag["start_s"], tag["end_s"]) == (1.0, 2.5)
    bad = client.post(f"/videos/{video_id}/tag-proposals/{first['id']}/maybe", data={"csrf_token": token})
    assert bad.status_code == 200 and "Accept or reject" in bad.text
    client.post("/logout", data={"csrf_token": token})
    viewer = make_account(Role.viewer)
    sign_in(client, viewer.user.email)
    assert client.get(f"/videos/{video_id}/tags").status_code == 200  # the page exists; it shows nothing to decide
    refused = client.post(f"/videos/{video_id}/autotag", data={"csrf_token": csrf_from(client.get("/").text)})
    assert "owner" in refused.text


def test_runs_are_bounded_per_requester_and_runs_nobody_took_are_queued_again(client, shop, ctx, media_dir):
    from datetime import UTC, datetime

    from tests.helpers import make_clip
    from vetrina import clock, leases

    merchant, video_id, products, _bare, _plain = shop
    clip = make_clip(media_dir / "autotag-2s.mp4", 2, size="320x240")
    others = [ready_clip(client, merchant, clip) for _ in range(autotag.MAX_UNFINISHED_RUNS)]
    ctx.queue.stop_in_process()  # runs wait in the queue from here on
    first = client.post(f"/api/v1/videos/{video_id}/autotag", headers=merchant.auth)
    again = client.post(f"/api/v1/videos/{video_id}/autotag", headers=merchant.auth)
    assert first.status_code == again.status_code == 202 and first.json()["run_id"] == again.json()["run_id"]
    for other in others[:-1]:
        assert client.post(f"/api/v1/videos/{other}/autotag", headers=merchant.auth).status_code == 202
    refused = client.post(f"/api/v1/videos/{others[-1]}/autotag", headers=merchant.auth)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
    huge = {"product_ids": list(range(1, ctx.settings.autotag_max_candidates + 2))}
    assert client.post(f"/api/v1/videos/{others[-1]}/autotag", headers=merchant.auth, json=huge).status_code == 422
    pending = ctx.queue.pending_count()
    assert leases.requeue_stalled(ctx) == {}
    assert ctx.queue.pending_count() == pending  # fresh runs are waiting their turn
    later = datetime.now(UTC) + leases.leased_kind(autotag.AUTOTAG_JOB).never_claimed_after + timedelta(minutes=1)
    clock.set_clock(lambda: later)
    assert len(leases.requeue_stalled(ctx)[autotag.AUTOTAG_JOB]) == autotag.MAX_UNFINISHED_RUNS
    assert ctx.queue.pending_count() == pending + autotag.MAX_UNFINISHED_RUNS


def test_a_proposal_for_a_product_deleted_since_is_hidden_and_cannot_be_accepted(client, shop, ctx):
    merchant, video_id, products, _bare, _plain = shop
    run = _finish(client, merchant, video_id)
    assert run["proposals"] == 3
    doomed = products[0]["id"]
    proposal = next(
        p
        for p in client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=merchant.auth).json()
        if p["product_id"] == doomed
    )
    assert client.delete(f"/api/v1/products/{doomed}", headers=merchant.auth).status_code == 204
    listed = client.get(f"/api/v1/videos/{video_id}/tag-proposals", headers=merchant.auth).json()
    assert doomed not in {p["product_id"] for p in listed} and len(listed) == 2
    accepted = client.post(f"/api/v1/videos/{video_id}/tag-proposals/{proposal['id']}/accept", headers=merchant.auth)
    assert accepted.status_code == 409
    assert client.get(f"/api/v1/videos/{video_id}/tags").json() == []
