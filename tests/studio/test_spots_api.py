"""The studio over HTTP: a merchant turns product photos into a spot that is published on its channel, tagged
with its products over its whole length; previews; and every kind of bad input refused before rendering."""

from __future__ import annotations

import io
import struct
import zlib

import av
import pytest
from PIL import Image

from tests.helpers import wait_for
from tests.studio.helpers import music_file, photo_bytes, product_with_photos, spot_body
from vetrina.accounts.models import Role
from vetrina.media.models import Video
from vetrina.studio.models import Spot


@pytest.fixture
def settings(settings):
    """Spots rendered small and fast: the frame size is a setting; the pipeline is the same."""
    return settings.model_copy(
        update={"studio_short_side": 240, "ladder_heights": [240], "studio_preview_short_side": 144}
    )


def wait_for_spot(client, merchant, spot_id: int) -> dict:
    def done():
        body = client.get(f"/api/v1/studio/spots/{spot_id}", headers=merchant.auth).json()
        return body if body["status"] != "rendering" else None

    return wait_for(done, timeout_s=120, message=f"spot {spot_id} to finish")


def test_a_spot_is_rendered_published_on_the_channel_and_shoppable(client, make_account, ctx, media_dir):
    merchant = make_account(Role.merchant)
    mug = product_with_photos(client, merchant, photos=3)
    tune = {"file": ("tune.mp3", music_file(media_dir / "tune.mp3").read_bytes(), "audio/mpeg")}
    music = client.post("/api/v1/studio/music", headers=merchant.auth, files=tune)
    assert music.status_code == 201, music.text
    assert music.json()["duration_s"] == pytest.approx(4, abs=0.1)
    accepted = client.post(
        "/api/v1/studio/spots",
        headers=merchant.auth,
        json=spot_body(mug["id"], music_id=music.json()["id"], aspect="9:16"),
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "rendering"
    assert accepted.headers["location"] == f"/api/v1/studio/spots/{accepted.json()['id']}"
    spot = wait_for_spot(client, merchant, accepted.json()["id"])
    assert spot["status"] == "ready", spot
    assert spot["progress"] == 1.0 and spot["watch_url"] == f"/watch/{spot['video_id']}"

    video = client.get(f"/api/v1/videos/{spot['video_id']}").json()
    assert video["status"] == "ready" and video["published"] and video["title"] == "Hand-glazed stoneware"
    assert video["duration_s"] == pytest.approx(6, abs=0.1) and (video["width"], video["height"]) == (240, 426)
    timeline = client.get(f"/api/v1/videos/{spot['video_id']}/timeline").json()
    [tag] = timeline["tags"]
    assert tag["product"]["id"] == mug["id"] and tag["start_s"] == 0 and tag["end_s"] == pytest.approx(6, abs=0.1)
    channel = client.get("/api/v1/me/channel", headers=merchant.auth).json()
    assert [v["id"] for v in channel["videos"]] == [v["id"] for v in channel["spots"]] == [spot["video_id"]]
    with ctx.db.session() as session:
        source = session.get(Video, spot["video_id"]).source_key
    with av.open(str(ctx.store.path(source))) as rendered:
        assert rendered.streams.audio, "the music is in the spot"
    page = client.get(f"/c/{channel['handle']}").text
    assert "<h2>Spots</h2>" in page and f'href="/watch/{spot["video_id"]}"' in page
    listed = client.get("/api/v1/studio/spots", headers=merchant.auth).json()
    assert [s["id"] for s in listed] == [spot["id"]]


def test_a_preview_renders_while_the_merchant_waits_and_publishes_nothing(client, make_account):
    merchant = make_account(Role.merchant)
    mug = product_with_photos(client, merchant, photos=2)
    preview = client.post("/api/v1/studio/previews", headers=merchant.auth, json=spot_body(mug["id"], aspect="1:1"))
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["width"], body["height"], body["duration_s"]) == (144, 144, 6)
    media = client.get(body["url"])
    assert media.status_code == 200 and media.content[4:8] == b"ftyp"
    assert client.get("/api/v1/studio/spots", headers=merchant.auth).json() == []
    assert client.get("/api/v1/me/channel", headers=merchant.auth).json()["videos"] == []


def test_the_templates_are_listed_with_what_they_take(client):
    templates = {t["name"]: t for t in client.get("/api/v1/studio/templates").json()}
    assert {"showcase", "split", "countdown"} <= set(templates)
    for template in templates.values():
        assert template["durations"] == [6, 15, 30] and template["aspects"] == ["16:9", "9:16", "1:1"]
        assert 1 <= template["images"]["min"] <= template["images"]["max"] <= 10
    assert templates["split"]["images"]["min"] == 2


def _problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json") and body["detail"]
    if field:
        assert body.get("field") == field, body
    return body


def test_bad_spot_requests_are_refused_before_rendering(client, make_account, ctx):
    merchant, rival, viewer = make_account(Role.merchant), make_account(Role.merchant), make_account(Role.viewer)
    mug = product_with_photos(client, merchant, photos=1)
    bare = product_with_photos(client, merchant, photos=0)
    rivals = product_with_photos(client, rival, photos=1)
    rival_image = client.post(
        "/api/v1/studio/images", headers=rival.auth, files={"file": ("r.jpg", photo_bytes((1, 2, 3)), "image/jpeg")}
    ).json()

    def spot(status: int, field: str | None = None, account=merchant, **changes) -> dict:
        return _problem(
            client.post("/api/v1/studio/spots", headers=account.auth, json=spot_body(mug["id"], **changes)),
            status,
            field,
        )

    assert "2 to 10" in spot(422, "image_ids", template="split")["detail"]
    spot(422, "template", template="slideshow")
    spot(422, "duration_s", duration_s=7)
    spot(422, "aspect", aspect="4:3")
    spot(422, "headline", headline="An extraordinarily long headline " * 3, aspect="9:16")
    assert "U+0F40" in spot(422, "headline", headline="བཀྲ་ཤིས་བདེ་ལེགས")["detail"]
    spot(422, "lines[0]", lines=["ok\u0000"])
    spot(422, "brand_color", brand_color="red")
    spot(422, "image_ids", product_ids=[bare["id"]])
    [photo] = client.get(f"/api/v1/products/{mug['id']}").json()["images"]
    assert "at most 4 shots" in spot(422, "image_ids", product_image_ids=[photo["id"]] * 5)["detail"]
    spot(404, "image_ids", image_ids=[rival_image["id"]])
    logo_file = {"file": ("logo.png", photo_bytes((200, 0, 0), size=(240, 120)), "image/png")}
    small = client.post("/api/v1/studio/images", headers=merchant.auth, files=logo_file).json()
    assert "320" in spot(422, "image_ids", image_ids=[small["id"]])["detail"]  # too small to fill a frame
    as_logo = client.post(
        "/api/v1/studio/previews", headers=merchant.auth, json=spot_body(mug["id"], logo_id=small["id"])
    )
    assert as_logo.status_code == 200, as_logo.text  # but fine as a logo
    spot(404, "music_id", music_id=999_999)
    spot(404, "logo_id", logo_id=rival_image["id"])
    spot(403, product_ids=[rivals["id"]])
    spot(403, account=viewer)
    spot(422, product_ids=[])  # schema: at least one product
    spot(422, lines=["a", "b", "c", "d"])  # schema: three lines at most
    spot(422, duration_s="six")
    assert client.post("/api/v1/studio/spots", json=spot_body(mug["id"])).status_code == 401
    with ctx.db.session() as session:
        assert session.query(Spot).count() == 0


def test_bad_uploads_are_refused_with_the_reason(client, make_account, short_clip):
    merchant = make_account(Role.merchant)

    def upload(kind: str, name: str, data: bytes, status: int) -> dict:
        return _problem(
            client.post(
                f"/api/v1/studio/{kind}",
                headers=merchant.auth,
                files={"file": (name, data, "application/octet-stream")},
            ),
            status,
        )

    upload("images", "notes.jpg", b"this is not an image", 415)
    assert "48" in upload("images", "tiny.jpg", photo_bytes((9, 9, 9), size=(40, 40)), 422)["detail"]
    upload("music", "song.mp3", b"ID3 but not really an mp3" * 100, 415)
    upload("music", "photo.mp3", photo_bytes((9, 9, 9)), 415)
    assert "no sound" in upload("music", "silent.mp4", _silent_video(short_clip), 415)["detail"]
    upload("images", "empty.jpg", b"", 422)
    assert "pixels" in upload("images", "bomb.png", _png_claiming(20_000, 20_000), 422)["detail"]
    assert client.get("/api/v1/studio/images", headers=merchant.auth).json() == []
    assert client.get("/api/v1/studio/music", headers=merchant.auth).json() == []


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims a huge picture (a decompression bomb's first step)."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # IHDR's CRC over type and fields
    return bytes(data)


def _silent_video(clip) -> bytes:
    from vetrina.media.ffmpeg import run_ffmpeg

    target = clip.parent / "silent.mp4"
    if not target.exists():
        run_ffmpeg(["-i", str(clip), "-an", "-c:v", "copy", str(target)])
    return target.read_bytes()


def test_a_failed_render_publishes_nothing(client, make_account, ctx):
    merchant = make_account(Role.merchant)
    mug = product_with_photos(client, merchant, photos=1)
    image = client.post(
        "/api/v1/studio/images",
        headers=merchant.auth,
        files={"file": ("u.jpg", photo_bytes((5, 90, 200)), "image/jpeg")},
    ).json()
    ctx.queue.stop_in_process()
    accepted = client.post(
        "/api/v1/studio/spots", headers=merchant.auth, json=spot_body(mug["id"], image_ids=[image["id"]])
    )
    assert accepted.status_code == 202
    with ctx.db.session() as session:
        spec = session.get(Spot, accepted.json()["id"]).spec
    ctx.store.path(spec["images"][0]).unlink()  # the image is gone by the time the render runs
    ctx.queue.start_in_process()
    spot = wait_for_spot(client, merchant, accepted.json()["id"])
    assert spot["status"] == "failed" and "removed" in spot["error"] and spot["video_id"] is None
    with ctx.db.session() as session:
        assert session.query(Video).count() == 0
    assert not list(ctx.store.root.glob("videos/*")) and not list((ctx.store.root / ".work").glob("spot-*"))


def test_spots_are_private_to_their_merchant_and_a_retried_request_renders_once(client, make_account, ctx):
    merchant, rival, viewer = make_account(Role.merchant), make_account(Role.merchant), make_account(Role.viewer)
    mug = product_with_photos(client, merchant, photos=1)
    ctx.queue.stop_in_process()  # nothing renders: this is about the requests
    headers = {**merchant.auth, "Idempotency-Key": "spot-retry-0001"}
    first = client.post("/api/v1/studio/spots", headers=headers, json=spot_body(mug["id"]))
    again = client.post("/api/v1/studio/spots", headers=headers, json=spot_body(mug["id"]))
    assert first.status_code == again.status_code == 202 and first.json() == again.json()
    changed = client.post("/api/v1/studio/spots", headers=headers, json=spot_body(mug["id"], headline="Other"))
    assert changed.status_code == 422  # the same key with another body
    with ctx.db.session() as session:
        assert session.query(Spot).count() == 1
    spot_id = first.json()["id"]
    assert client.get(f"/api/v1/studio/spots/{spot_id}", headers=rival.auth).status_code == 404
    assert client.get("/api/v1/studio/spots", headers=rival.auth).json() == []
    assert client.get(f"/api/v1/studio/spots/{spot_id}", headers=merchant.auth).json()["status"] == "rendering"
    assert client.get("/studio", headers=viewer.auth).status_code == 403
    assert client.get("/studio", follow_redirects=False).headers["location"] == "/login?next=/studio"
    page = client.get("/studio", headers=merchant.auth)
    assert page.status_code == 200 and mug["title"] in page.text and 'value="split"' in page.text


def test_the_products_own_photos_are_chosen_to_suit_the_template_and_length(client, make_account, ctx):
    merchant = make_account(Role.merchant)
    shirt = product_with_photos(client, merchant, photos=5)
    tiny = client.post(
        f"/api/v1/products/{shirt['id']}/images",
        headers=merchant.auth,
        files={"file": ("t.jpg", photo_bytes((1, 1, 1), size=(200, 200)), "image/jpeg")},
    )
    assert tiny.status_code == 201  # fine for the shop, too small for a video
    ctx.queue.stop_in_process()
    long_title = {"title": None, "headline": "", "lines": []}
    for template, duration, shown in (("showcase", 6, 4), ("showcase", 15, 5), ("split", 6, 5), ("countdown", 30, 5)):
        body = spot_body(shirt["id"], template=template, duration_s=duration, **long_title)
        accepted = client.post("/api/v1/studio/spots", headers=merchant.auth, json=body)
        assert accepted.status_code == 202, accepted.text
        with ctx.db.session() as session:
            spot = session.get(Spot, accepted.json()["id"])
            assert len(spot.spec["images"]) == shown, (template, duration)
            assert spot.spec["title"] == f"{shirt['title']}: spot"
            spot.status = "failed"  # out of the way of the per-merchant limit
