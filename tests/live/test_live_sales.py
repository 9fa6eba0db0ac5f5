"""What a show sold, and when: orders name the show and the stream time on the buyer's screen; the host's analytics
count viewers, chat, pins and sales per minute; the moments that sold most are cut from the replay (real ffmpeg, real
segments in the store) into wide and upright clips on the host's channel; a partner's show sells a merchant's
products only once the merchant consents."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import imageio_ffmpeg
import m3u8
import pytest

from tests.commerce.helpers import funded_buyer, product, step
from tests.live.helpers import go_live, live_show
from tests.web.helpers import assert_problem, csrf_from, sign_in
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.demo import DemoHostScript
from vetrina.live import analytics, highlights
from vetrina.live import service as live
from vetrina.live.highlights import Sale, best_moments
from vetrina.live.models import LiveSegment, LiveShow, ShowStatus
from vetrina.media.models import Video, VideoStatus
from vetrina.media.probe import probe_video
from vetrina.shoppable.models import ProductTag


def live_order(client, buyer, show_id: int, product_id: int, at: datetime, quantity: int = 1):
    body = {
        "items": [{"product_id": product_id, "quantity": quantity}],
        "live": {"show_id": show_id, "stream_time": at.isoformat()},
    }
    return client.post("/api/v1/orders", headers=buyer.auth, json=body)


def test_an_order_from_a_live_show_names_it_and_the_stream_time_on_the_buyers_screen(client, ctx, make_account):
    merchant = make_account(Role.merchant)
    tea, other = product(client, merchant)["id"], product(client, merchant)["id"]
    buyer = funded_buyer(client, make_account)
    scheduled = client.post("/api/v1/live", headers=merchant.auth, json={"title": "Later", "product_ids": [tea]})
    shown = clock.now() - timedelta(seconds=4)
    assert_problem(live_order(client, buyer, scheduled.json()["id"], tea, shown), 422, "invalid-input")  # not on air
    show = live_show(client, ctx, merchant, [tea])

    placed = live_order(client, buyer, show["id"], tea, shown)
    assert placed.status_code == 201, placed.text
    assert placed.json()["live"]["show_id"] == show["id"] and placed.json()["source"] is None
    assert abs(datetime.fromisoformat(placed.json()["live"]["stream_time"]) - shown) < timedelta(milliseconds=1)
    refused = [
        live_order(client, buyer, show["id"], other, shown),  # not featured
        live_order(client, buyer, show["id"], tea, shown - timedelta(hours=1)),  # before the show
        live_order(client, buyer, show["id"], tea, clock.now() + timedelta(minutes=1)),  # not yet on anyone's screen
        live_order(client, buyer, 10**9, tea, shown),
        client.post(
            "/api/v1/orders",
            headers=buyer.auth,
            json={
                "items": [{"product_id": tea, "quantity": 1}],
                "live": {"show_id": show["id"], "stream_time": "10:00"},
            },
        ),
        client.post(
            "/api/v1/orders",
            headers=buyer.auth,
            json={
                "items": [{"product_id": tea, "quantity": 1}],
                "live": {"show_id": show["id"], "stream_time": shown.isoformat()},
                "source": {"video_id": 1, "second": 1},
            },
        ),
    ]
    for answer in refused:
        assert_problem(answer, 422, "invalid-input")
    assert len(client.get("/api/v1/orders", headers=buyer.auth).json()["items"]) == 1  # nothing half-made

    # Held during the show and bought after it ended: still the show's, at the moment held.
    assert client.post(f"/api/v1/live/{show['id']}/end", headers=merchant.auth).status_code == 200
    assert live_order(client, buyer, show["id"], tea, shown).status_code == 201
    later = clock.now() + timedelta(minutes=1)
    clock.set_clock(lambda: later)
    try:
        assert_problem(live_order(client, buyer, show["id"], tea, later), 422, "invalid-input")  # after its end
    finally:
        clock.set_clock(None)


def test_the_hosts_analytics_count_viewers_chat_pins_and_sales_per_minute(client, ctx, make_account):
    merchant, stranger = make_account(Role.merchant), make_account(Role.merchant)
    tea = product(client, merchant)["id"]
    buyer = funded_buyer(client, make_account)
    show = live_show(client, ctx, merchant, [tea])
    url = f"/api/v1/live/{show['id']}"
    assert client.post(f"{url}/pins", headers=merchant.auth, json={"product_id": tea}).status_code == 201
    for text in ("hello", "how much?"):
        assert client.post(f"{url}/chat", headers=buyer.auth, json={"text": text}).status_code in (200, 201)
    # Bought at a stream time a minute before the publish callback (its encoder dated it so): still counted.
    bought = live_order(client, buyer, show["id"], tea, clock.now() - timedelta(seconds=65), quantity=2)
    step(client, buyer, bought.json()["id"], "pay")
    unpaid = live_order(client, buyer, show["id"], tea, clock.now() - timedelta(seconds=1))
    assert unpaid.status_code == 201  # not paid: not a sale
    analytics.record_viewers(ctx.db, {show["id"]: 7, 10**9: 3})  # a show that does not exist is not kept
    analytics.record_viewers(ctx.db, {show["id"]: 4})  # a lower count later in the minute: the peak stays

    report = client.get(f"{url}/analytics", headers=merchant.auth)
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["peak_viewers"], body["chat_messages"], body["pins"]) == (7, 2, 1)
    assert (body["orders"], body["units"]) == (1, 2)
    assert body["revenue"] == [{"amount": 2 * 1999, "currency": "EUR"}]
    assert sum(m["units"] for m in body["minutes"]) == 2 and max(m["viewers"] for m in body["minutes"]) == 7
    assert body["minutes"] and all(m["minute"].endswith(":00+00:00") for m in body["minutes"])
    assert body["replay"] is None and body["highlights"] == []
    assert_problem(client.get(f"{url}/analytics", headers=stranger.auth), 403, "forbidden")
    assert_problem(client.get(f"{url}/analytics", headers=buyer.auth), 403, "forbidden")


def test_the_best_moments_are_the_windows_that_sold_most_none_overlapping():
    sales = [Sale(8, 1, 2), Sale(10, 1, 1), Sale(35, 2, 5), Sale(48, 1, 1)]
    moments = best_moments(sales, duration_s=50)
    # 30..50 holds 6 units (5 of product 2): it goes first; 20..40 overlaps it; 0..20 holds product 1's 3.
    assert [(m.start_s, m.end_s, m.units, m.product_id) for m in moments] == [(30, 50, 6, 2), (0, 20, 3, 1)]
    assert best_moments(sales, duration_s=12) == []  # too short a replay for a 15 s clip
    assert best_moments([], duration_s=600) == []
    many = [Sale(s, 1, 1) for s in range(0, 600, 30)]
    assert len(best_moments(many, duration_s=600)) == 3


def _replay_segments(directory: Path) -> list[tuple[Path, float]]:
    """50 s of a 854x480 picture, blue on the left and red on the right, with sound, as 1 s MPEG-TS segments."""
    directory.mkdir(parents=True)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi"]
        + ["-i", "color=c=blue:s=854x480:r=25:d=50", "-f", "lavfi", "-i", "sine=frequency=440:duration=50"]
        + ["-vf", "drawbox=x=427:y=0:w=427:h=480:color=red:t=fill", "-c:v", "libx264", "-preset", "ultrafast"]
        + ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-c:a", "aac", "-f", "hls", "-hls_time", "1"]
        + ["-hls_playlist_type", "vod", "-hls_segment_filename", str(directory / "seg_%05d.ts")]
        + [str(directory / "index.m3u8")],
        check=True,
        timeout=120,
    )
    playlist = m3u8.load(str(directory / "index.m3u8"))
    return [(directory / segment.uri, segment.duration) for segment in playlist.segments]


def _mean_colour(path: Path) -> tuple[int, int, int]:
    """The average colour of the clip's frame at 5 s."""
    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-ss", "5", "-i", str(path)]
        + ["-frames:v", "1", "-vf", "scale=1:1:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    return raw[0], raw[1], raw[2]


def test_the_moments_that_sold_most_become_wide_and_upright_clips_on_the_hosts_channel(
    client, ctx, make_account, tmp_path
):
    ctx.queue.stop_in_process()  # the clips' transcodes are not this test's: their sources are
    merchant = make_account(Role.merchant)
    tea, pot = product(client, merchant)["id"], product(client, merchant)["id"]
    buyer = funded_buyer(client, make_account, amount=50_000)
    show = live_show(client, ctx, merchant, [tea, pot])
    # The show's recording: 50 s of segments in the store, the last ending now, as the encoder leaves them.
    prefix = f"live/test-{show['id']}"
    parts = _replay_segments(tmp_path / "replay")
    start = clock.now() - timedelta(seconds=sum(duration for _, duration in parts) + 1)
    with ctx.db.session(write=True) as session:
        elapsed = 0.0
        for seq, (path, duration) in enumerate(parts):
            ctx.store.put_file(path, f"{prefix}/480p/seg_{seq:05d}.ts")
            program_time = start + timedelta(seconds=elapsed)
            session.add(LiveSegment(show_id=show["id"], seq=seq, program_time=program_time, duration_s=duration))
            elapsed += duration
    # Sold: tea 2 + 1 at 8 s and 10 s, a pot of 5 at 35 s, tea 1 at 48 s.
    for second, product_id, units in ((8, tea, 2), (10, tea, 1), (35, pot, 5), (48, tea, 1)):
        placed = live_order(client, buyer, show["id"], product_id, start + timedelta(seconds=second), units)
        assert placed.status_code == 201, placed.text
        step(client, buyer, placed.json()["id"], "pay")
    with ctx.db.session(write=True) as session:
        replay = Video(
            owner_id=merchant.user.id,
            title="Tea, live",
            description="",
            status=VideoStatus.ready.value,
            progress=1.0,
            duration_s=elapsed,
            width=854,
            height=480,
            frame_rate=25,
            has_audio=True,
            renditions=[{"height": 480, "width": 854, "bandwidth": 1_000_000}],
            output_key=prefix,
            allow_merchant_tags=False,
            created_at=clock.now(),
            ready_at=clock.now(),
        )
        session.add(replay)
        session.flush()
        # The host drew the pot's box on the replay: right of centre, in the red.
        box = {"x": 0.7, "y": 0.3, "w": 0.2, "h": 0.3}
        now = clock.now()
        session.add(
            ProductTag(
                video_id=replay.id,
                product_id=pot,
                start_s=30,
                end_s=50,
                box=box,
                keyframes=[],
                created_by=merchant.user.id,
                created_at=now,
                updated_at=now,
            )
        )
        row = session.get_one(LiveShow, show["id"])
        row.status, row.ended_at, row.replay_video_id, row.replay_made_at = ShowStatus.ended.value, now, replay.id, now

    made = highlights.make_highlights(ctx, show["id"])
    assert len(made) == 4  # two moments, each wide and upright
    assert highlights.make_highlights(ctx, show["id"]) == []  # once
    report = client.get(f"/api/v1/live/{show['id']}/analytics", headers=merchant.auth).json()
    found = report["highlights"]
    assert [(h["rank"], h["product_id"], h["units"]) for h in found] == [(1, pot, 6), (2, tea, 3)]
    assert found[0]["start_s"] == pytest.approx(elapsed - 20, abs=0.01) and found[1]["start_s"] == 0
    with ctx.db.session() as session:
        for h in found:
            wide, tall = session.get_one(Video, h["wide_video_id"]), session.get_one(Video, h["tall_video_id"])
            assert wide.owner_id == tall.owner_id == merchant.user.id and {wide.id, tall.id} <= set(made)
            assert wide.status == tall.status == VideoStatus.processing.value  # queued for the ladder, as uploads
            for video, size in ((wide, (854, 480)), (tall, (270, 480))):
                with ctx.store.local_copy(video.source_key) as source:
                    probe = probe_video(source, 600)
                    assert (probe.width, probe.height) == size and 19 <= probe.duration_s <= 21.5
                    if video is tall:
                        red, _, blue = _mean_colour(source)
                        if h["product_id"] == pot:  # cropped around the box: all red
                            assert red > 180 and blue < 60, (red, blue)
                        else:  # no box: the centre, half blue, half red
                            assert red > 60 and blue > 60, (red, blue)
                tags = session.query(ProductTag).filter(ProductTag.video_id == video.id).all()
                assert [t.product_id for t in tags] == [h["product_id"]]
        upright_pot = session.query(ProductTag).filter(ProductTag.video_id == found[0]["tall_video_id"]).one()
        assert upright_pot.box is not None and 0.2 < upright_pot.box["x"] + upright_pot.box["w"] / 2 < 0.8


def test_a_partners_show_sells_a_merchants_products_only_with_the_merchants_consent(client, ctx, make_account):
    partner, merchant, other = make_account(Role.partner), make_account(Role.merchant), make_account(Role.merchant)
    tea = product(client, merchant)["id"]
    hidden = product(client, other, published=False)["id"]
    body = {"title": "Studio picks", "product_ids": [tea, hidden]}
    assert_problem(client.post("/api/v1/live", headers=partner.auth, json=body), 422, "invalid-input")  # unpublished
    assert_problem(  # a merchant features only its own
        client.post("/api/v1/live", headers=other.auth, json={"title": "Mine", "product_ids": [tea]}),
        422,
        "invalid-input",
    )
    made = client.post("/api/v1/live", headers=partner.auth, json={"title": "Studio picks", "product_ids": [tea]})
    assert made.status_code == 201, made.text
    show = made.json()
    go_live(client, ctx.settings, show["stream_key"])
    url = f"/api/v1/live/{show['id']}"
    asked = client.get("/api/v1/live-consents", headers=merchant.auth).json()
    assert [(a["show_id"], a["status"], a["product_ids"]) for a in asked] == [(show["id"], "asked", [tea])]
    assert client.get("/api/v1/live-consents", headers=other.auth).json() == []
    assert show["product_ids"] == [tea] and client.get(url).json()["product_ids"] == []  # nobody learns who is asked
    assert_problem(
        client.post(f"{url}/pins", headers=partner.auth, json={"product_id": tea}), 422, "invalid-input"
    )  # not yet
    buyer = funded_buyer(client, make_account)
    assert_problem(live_order(client, buyer, show["id"], tea, clock.now()), 422, "invalid-input")
    assert_problem(client.put(f"{url}/consent", headers=other.auth, json={"accept": True}), 404, "not-found")

    yes = client.put(f"{url}/consent", headers=merchant.auth, json={"accept": True})
    assert yes.status_code == 200 and yes.json()["status"] == "accepted"
    assert client.post(f"{url}/pins", headers=partner.auth, json={"product_id": tea}).status_code == 201
    assert live_order(client, buyer, show["id"], tea, clock.now()).status_code == 201
    assert f'href="/p/{tea}"' in client.get(f"/live/{show['id']}").text  # shown once consented
    assert client.get(url).json()["product_ids"] == [tea]
    sale = {"product_id": tea, "price": {"amount": 500, "currency": "EUR"}, "quantity": 1, "seconds": 60}
    refused = client.post(f"{url}/flash-sales", headers=partner.auth, json=sale)  # not the partner's stock to sell
    assert "You sell no product" in assert_problem(refused, 422, "invalid-input")["detail"]

    no = client.put(f"{url}/consent", headers=merchant.auth, json={"accept": False})
    assert no.json()["status"] == "declined"
    assert client.get(f"{url}/pins").json()[-1]["unpinned_at"] is not None  # declining took its pin down
    assert_problem(client.post(f"{url}/pins", headers=partner.auth, json={"product_id": tea}), 422, "invalid-input")


def test_the_demo_shows_host_pins_and_its_buyer_buys_live_over_http(live_server, make_account):
    merchant, buyer = make_account(Role.merchant), make_account(Role.viewer)
    with httpx.Client(base_url=live_server.url) as http:
        tea = product(http, merchant)["id"]
        assert http.post("/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 10_000, "currency": "EUR"})
        show = live_show(http, live_server.ctx, merchant, [tea])
        script = DemoHostScript(live_server.url, merchant.token, buyer.token, show["id"], [tea])
        script.act(41)  # past the greeting, the first pin and the first purchase
        pins = http.get(f"/api/v1/live/{show['id']}/pins").json()
        bought = http.get("/api/v1/orders", headers=buyer.auth).json()["items"]
        script.act(42)  # each step once
        assert [p["product_id"] for p in pins] == [tea]
        assert len(bought) == 1 and bought[0]["live"]["show_id"] == show["id"]
        assert bought[0]["status"] == "WAIT_SELLER_SEND_GOODS"  # paid into escrow
        assert len(http.get("/api/v1/orders", headers=buyer.auth).json()["items"]) == 1


def test_the_hosts_page_shows_why_a_stream_was_dropped_and_how_the_show_sells(client, ctx, make_account):
    merchant, partner = make_account(Role.merchant), make_account(Role.partner)
    tea = product(client, merchant)["id"]
    show = live_show(client, ctx, merchant, [tea])
    with ctx.db.session(write=True) as session:
        live.note_stream_problem(session, show["id"], "Send H.264 video: this stream is FLV1.")
        session.get_one(LiveShow, show["id"]).status = ShowStatus.interrupted.value
    sign_in(client, merchant.user.email)
    page = client.get(f"/live/{show['id']}/host")
    assert page.status_code == 200
    assert "Your stream was dropped: Send H.264 video: this stream is FLV1." in page.text
    assert "How the show sells" in page.text and "Minute by minute" in page.text
    assert "Your stream was dropped" not in client.get(f"/live/{show['id']}").text  # the host's alone

    # The merchant desk lists a partner's show asking for the merchant's products, and answers it by form.
    asked = client.post("/api/v1/live", headers=partner.auth, json={"title": "Picks", "product_ids": [tea]}).json()
    desk = client.get("/merchant")
    assert f'action="/merchant/live/{asked["id"]}/consent"' in desk.text
    csrf = csrf_from(desk.text)
    answer = client.post(
        f"/merchant/live/{asked['id']}/consent", data={"accept": "yes", "csrf_token": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    consents = client.get("/api/v1/live-consents", headers=merchant.auth).json()
    assert [(c["show_id"], c["status"]) for c in consents] == [(asked["id"], "accepted")]


def test_a_clips_framing_crops_around_the_box_or_pads_and_moves_the_box_with_the_picture():
    right = {"x": 0.7, "y": 0.3, "w": 0.2, "h": 0.3}
    upright = highlights.framing(854, 480, highlights.TALL, right)
    assert upright.filter == "crop=270:480:548:0"  # centred on the box's middle (683 px), inside the picture
    moved = upright.box(right)
    assert moved is not None and moved["x"] == pytest.approx((0.7 * 854 - 548) / 270) and moved["y"] == 0.3
    assert upright.box({"x": 0.0, "y": 0.0, "w": 0.1, "h": 0.1}) is None  # cropped off
    assert highlights.framing(854, 480, highlights.TALL, None).filter == "crop=270:480:292:0"  # no box: the centre
    wide = highlights.framing(270, 480, highlights.WIDE, None)  # a phone's upright show, made 16:9
    assert wide.filter == "pad=854:480:292:0"
    whole = wide.box({"x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0})
    assert whole == pytest.approx({"x": 292 / 854, "y": 0.0, "w": 270 / 854, "h": 1.0})
    assert highlights.framing(854, 480, highlights.WIDE, right).filter == "null"  # 16:9 already
