"""Campaigns, the auction, frequency caps, pacing and spend, over HTTP with a real queue and database (SQLite
and PostgreSQL); the overspend bound under concurrent impressions; VAST and VMAP answers against the schemas."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from lxml import etree

from tests.ads.helpers import NOON, campaign_row, eur, fund, linear
from tests.helpers import make_clip, wait_for
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.ads import tracking
from vetrina.ads.decide import CampaignBook
from vetrina.ads.models import AdDecision, Campaign
from vetrina.ads.vast import read_vast
from vetrina.money import MilliMoney
from vetrina.payments import ledger
from vetrina.payments.models import AccountKind


@pytest.fixture
def settings(settings):
    # Decide from fresh campaign figures every time (in production a process keeps them for 2 s).
    return settings.model_copy(update={"ladder_heights": [240], "ads_campaign_cache_s": 0})


@pytest.fixture
def ready_video(client, make_account, media_dir):
    """A publisher's ready 6 s video (the one ads play on) and an advertiser's spot video."""
    clip = make_clip(media_dir / "ads-6s.mp4", 6, size="320x240")

    def upload(account) -> int:
        with clip.open("rb") as handle:
            video = client.post(
                "/api/v1/videos", headers=account.auth, data={"title": "Film"}, files={"file": ("c.mp4", handle)}
            ).json()
        wait_for(
            lambda: client.get(f"/api/v1/videos/{video['id']}").json()["status"] == "ready",
            timeout_s=60,
            message="the video",
        )
        return video["id"]

    publisher, advertiser = make_account(Role.merchant), make_account(Role.merchant)
    return publisher, upload(publisher), advertiser, upload(advertiser)


def start(client, account, body: dict) -> dict:
    created = client.post("/api/v1/campaigns", headers=account.auth, json=body)
    assert created.status_code == 201, created.text
    active = client.patch(f"/api/v1/campaigns/{created.json()['id']}", headers=account.auth, json={"status": "active"})
    assert active.status_code == 200, active.text
    return active.json()


def ask(client, video_id: int, viewer: str, slot: str = "preroll") -> bytes:
    client.cookies.set("vetrina_viewer", viewer)  # the player's first-party viewer cookie
    response = client.get("/api/v1/ads/vast", params={"video_id": video_id, "slot": slot})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    return response.content


def test_campaigns_are_checked_and_belong_to_their_merchant(client, ready_video, make_account, ctx):
    publisher, film, advertiser, spot = ready_video
    viewer = make_account(Role.viewer)
    bad = [
        ({"kind": "banner"}, 422),
        ({"video_id": film}, 403),  # someone else's video
        ({"bid": {"model": "cpc", "price": eur(50)}}, 422),  # linear ads are CPM
        ({"budget_daily": eur(60_000)}, 422),
        ({"budget_total": {"amount": 100, "currency": "USD"}}, 422),
        ({"ends_at": (NOON - timedelta(days=2)).isoformat()}, 422),
        ({"targeting": {"planets": ["mars"]}}, 422),
        ({"targeting": {"territories": ["Italy"]}}, 422),
        ({"targeting": {"hours": [25]}}, 422),
        ({"video_id": None, "vast_url": "ftp://ads.example/tag"}, 422),
        ({"bid": {"model": "cpm", "price": eur(0)}}, 422),
    ]
    for changes, status in bad:
        refused = client.post("/api/v1/campaigns", headers=advertiser.auth, json={**linear(spot), **changes})
        assert refused.status_code == status, (changes, refused.text)
    assert client.post("/api/v1/campaigns", headers=viewer.auth, json=linear(spot)).status_code == 403
    created = client.post(
        "/api/v1/campaigns",
        headers=advertiser.auth,
        json=linear(spot, targeting={"territories": ["it", "CN"], "devices": ["mobile"], "hours": [9, 10]}),
    )
    assert created.status_code == 201 and created.json()["status"] == "draft"
    assert created.json()["targeting"] == {"territories": ["CN", "IT"], "devices": ["mobile"], "hours": [9, 10]}
    campaign_id = created.json()["id"]
    assert client.get(f"/api/v1/campaigns/{campaign_id}", headers=publisher.auth).status_code == 404
    assert (
        client.patch(f"/api/v1/campaigns/{campaign_id}", headers=publisher.auth, json={"name": "x"}).status_code == 404
    )
    refused = client.patch(f"/api/v1/campaigns/{campaign_id}", headers=advertiser.auth, json={"status": "active"})
    assert refused.status_code == 409 and "balance" in refused.json()["detail"]  # no money to spend yet
    fund(ctx, advertiser)
    assert (
        client.patch(f"/api/v1/campaigns/{campaign_id}", headers=advertiser.auth, json={"status": "active"}).json()[
            "status"
        ]
        == "active"
    )
    assert (
        client.patch(f"/api/v1/campaigns/{campaign_id}", headers=advertiser.auth, json={"status": "draft"}).status_code
        == 409
    )
    assert [c["id"] for c in client.get("/api/v1/campaigns", headers=advertiser.auth).json()] == [campaign_id]


def test_the_auction_is_second_price_with_the_video_owners_floor(
    client, ready_video, make_account, ctx, assert_valid_vast
):
    publisher, film, advertiser, spot = ready_video
    rival = make_account(Role.merchant)
    fund(ctx, advertiser)
    fund(ctx, rival)
    high = start(client, advertiser, linear(spot, bid=1000))
    assert client.post("/api/v1/campaigns", headers=rival.auth, json=linear(spot)).status_code == 403  # not its video
    clock.set_clock(lambda: NOON)

    data = ask(client, film, "viewer1")
    assert_valid_vast(data)
    [ad] = read_vast(data).ads
    assert ad.id == str(high["id"]) and ad.creatives[0].linear.media_files[0].type == "application/x-mpegURL"
    assert ad.pricing.value == "5.00"  # alone and without a floor: half its bid (10.00 CPM)

    # A third-party tag bidding 6.00 (a public address: it is only checked, never fetched here).
    second = client.post(
        "/api/v1/campaigns", headers=rival.auth, json=linear(None, bid=600, vast_url="https://93.184.216.34/vast.xml")
    )
    assert second.status_code == 201, second.text
    assert (
        client.patch(
            f"/api/v1/campaigns/{second.json()['id']}", headers=rival.auth, json={"status": "active"}
        ).status_code
        == 200
    )
    [ad] = read_vast(ask(client, film, "viewer2")).ads
    assert ad.id == str(high["id"]) and ad.pricing.value == "6.00"  # pays the second price
    put = client.put(
        f"/api/v1/videos/{film}/ad-settings",
        headers=publisher.auth,
        json={"preroll": True, "floor_cpm": eur(800), "midrolls_s": [3.0]},
    )
    assert put.status_code == 200
    assert client.put(f"/api/v1/videos/{film}/ad-settings", headers=advertiser.auth, json={}).status_code == 403
    [ad] = read_vast(ask(client, film, "viewer3")).ads
    assert ad.pricing.value == "8.00"  # the floor is above the second bid
    client.put(f"/api/v1/videos/{film}/ad-settings", headers=publisher.auth, json={"floor_cpm": eur(1200)})
    empty = ask(client, film, "viewer4")
    assert_valid_vast(empty)
    assert read_vast(empty).ads == []  # nobody bids the floor: a valid VAST with no ad


def test_frequency_caps_pacing_and_spend(client, ready_video, ctx):
    publisher, film, advertiser, spot = ready_video
    fund(ctx, advertiser)
    body = linear(
        spot, bid=10_000, budget_daily=eur(100), budget_total=eur(1_000), frequency_cap={"count": 2, "per_hours": 24}
    )
    campaign = start(client, advertiser, body)
    six_am = NOON.replace(hour=6)
    clock.set_clock(lambda: six_am)  # a quarter of the day: at most 25 cents of the 1 € daily budget

    served = 0
    for viewer in range(20):
        for _ in range(3):  # each viewer asks three times; the cap lets two through
            data = ask(client, film, f"v{viewer}")
            ads = read_vast(data).ads
            if not ads:
                break
            impression = re.sub(r"^https?://[^/]+", "", ads[0].impressions[0])
            assert client.get(impression).status_code == 204
            assert client.get(impression).status_code == 204  # a repeat is not counted again
            served += 1
    with ctx.db.session() as session:
        spent = session.get(Campaign, campaign["id"]).spent_millis
    # Each impression costs half the 100.00 CPM bid: 5 cents. Pacing admits ads until 25 cents are spent.
    assert spent == served * 5_000 and 25_000 <= spent <= 25_000 + 5_000
    capped = [read_vast(ask(client, film, "v0")).ads for _ in range(1)]
    assert capped == [[]]
    clock.set_clock(lambda: six_am + timedelta(hours=6))  # half the day: more may be spent
    assert read_vast(ask(client, film, "fresh")).ads


def active_campaign(ctx, merchant, budget: int, spent_millis: int = 0) -> int:
    """An active overlay campaign written straight into the database (no HTTP needed for these tests)."""
    with ctx.db.session(write=True) as session:
        campaign = campaign_row(merchant.user.id, clock.now(), budget=budget, spent_millis=spent_millis)
        session.add(campaign)
        session.flush()
        return campaign.id


def test_concurrent_impressions_never_overspend_by_more_than_one_price(ctx, make_account):
    """Many threads charge one nearly exhausted campaign at once: the spend ends under budget + one price."""
    campaign_id = active_campaign(ctx, make_account(Role.merchant), budget=10)
    price = MilliMoney(700, "EUR")  # 10 cents of budget = 10,000 millis fit 14.3 impressions
    errors: list[Exception] = []

    def hammer() -> None:
        try:
            for _ in range(10):
                with ctx.db.session(write=True) as session:
                    tracking.charge(session, campaign_id, price, clock.now())
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with ctx.db.session() as session:
        final = session.get(Campaign, campaign_id)
        assert 10_000 <= final.spent_millis < 10_000 + price.millis and final.status == "exhausted"
        assert session.query(AdDecision).count() == 0


def test_one_thread_rereads_the_campaign_book_while_the_others_decide_from_the_last_read(ctx, make_account):
    """An expired book is re-read once, not by every thread that finds it expired (a stampede that stalled
    decisions under load); after `forget` (a committed change) the next decision waits for the new read."""
    merchant = make_account(Role.merchant)
    active_campaign(ctx, merchant, budget=1000)
    book = CampaignBook(ttl_s=0.05)
    with ctx.db.session() as session:
        assert len(book.active(session)) == 1
    rereads: list[int] = []
    rereading, finish = threading.Event(), threading.Event()
    reread = book._reload

    def slow_reread(session, generation):
        rereads.append(generation)
        rereading.set()
        finish.wait(10)
        return reread(session, generation)

    book._reload = slow_reread
    time.sleep(0.1)  # the book has expired
    seen: list[int] = []

    def decide_from_book() -> None:
        with ctx.db.session() as session:
            seen.append(len(book.active(session)))

    first = threading.Thread(target=decide_from_book)
    first.start()
    assert rereading.wait(10)
    others = [threading.Thread(target=decide_from_book) for _ in range(8)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(10)
    assert not any(thread.is_alive() for thread in others) and seen == [1] * 8  # the last read, not waiting
    finish.set()
    first.join(10)
    assert rereads == [0] and seen == [1] * 9

    book._reload = reread
    active_campaign(ctx, merchant, budget=1000)
    book.forget()
    with ctx.db.session() as session:
        assert len(book.active(session)) == 2  # no stale answer after a change


def test_the_vmap_lists_the_owners_breaks_and_validates(client, ready_video, vmap_schema):
    publisher, film, _advertiser, _spot = ready_video
    client.put(
        f"/api/v1/videos/{film}/ad-settings",
        headers=publisher.auth,
        json={"preroll": True, "midrolls_s": [3.0], "overlays_s": [1.5]},
    )
    assert (
        client.put(
            f"/api/v1/videos/{film}/ad-settings", headers=publisher.auth, json={"midrolls_s": [60.0]}
        ).status_code
        == 422
    )  # past the end
    response = client.get(f"/api/v1/videos/{film}/vmap")
    assert response.status_code == 200
    vmap_schema.validate(response.text)
    breaks = etree.fromstring(response.content)
    assert [(b.get("breakId"), b.get("timeOffset")) for b in breaks] == [
        ("preroll", "start"),
        ("overlay-1", "00:00:01.500"),
        ("midroll-1", "00:00:03.000"),
    ]
    tag = breaks[2][0][0].text
    assert tag.endswith(f"/api/v1/ads/vast?video_id={film}&slot=midroll-1")
    assert client.get("/api/v1/ads/vast", params={"video_id": film, "slot": "midroll-9"}).status_code == 422
    assert client.get("/api/v1/ads/events/nosuchad/impression").status_code == 404
    assert client.get("/api/v1/ads/events/none/error?code=303").status_code == 204


def test_spend_is_settled_from_the_merchants_balance_and_a_short_balance_pauses_the_campaign(ctx, make_account):
    merchant = make_account(Role.merchant)
    fund(ctx, merchant, amount=10)  # 10 cents
    campaign_id = active_campaign(ctx, merchant, budget=100, spent_millis=7_999)
    tracking.settle_all(ctx)
    with ctx.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.billed == 7 and campaign.status == "active"  # whole cents only; the rest next time
        payable = ledger.account(session, AccountKind.merchant_payable, merchant.user.id, "EUR")
        assert payable.credits_posted - payable.debits_posted == 3
        assert ledger.check_ledger(session).ok
    with ctx.db.session(write=True) as session:
        session.get(Campaign, campaign_id).spent_millis = 20_000  # 13 cents more than billed; 3 left to pay with
    tracking.settle_all(ctx)
    with ctx.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.billed == 7 and campaign.status == "paused"
        assert ledger.check_ledger(session).ok


def test_the_report_counts_events_spend_and_the_purchases_the_campaign_can_claim(
    client, ready_video, make_account, ctx
):
    from tests.commerce.helpers import funded_buyer, order, product, step

    _publisher, film, advertiser, spot = ready_video
    fund(ctx, advertiser)
    campaign = start(client, advertiser, linear(spot, bid=2000))
    item = product(client, advertiser, price=500, stock=20)
    clicker, watcher, late = (funded_buyer(client, make_account) for _ in range(3))
    moment = [NOON]
    clock.set_clock(lambda: moment[0])

    def watch(buyer, click: bool) -> None:
        [ad] = read_vast(client.get("/api/v1/ads/vast", params={"video_id": film}, headers=buyer.auth).content).ads
        for url in [ad.impressions[0], *(t.url for t in ad.creatives[0].linear.tracking if t.event == "complete")]:
            assert client.get(re.sub(r"^https?://[^/]+", "", url)).status_code == 204
        if click:
            through = re.sub(r"^https?://[^/]+", "", ad.creatives[0].linear.click_through)
            assert client.get(through, follow_redirects=False).status_code == 302

    for buyer, click in ((clicker, True), (watcher, False), (late, False)):
        watch(buyer, click)
    moment[0] = NOON + timedelta(hours=20)  # inside the one-day view window, and the 7-day click window
    for buyer in (clicker, watcher):
        step(client, buyer, order(client, buyer, item["id"])["id"], "pay")
    moment[0] = NOON + timedelta(days=2)  # too late to credit a view
    step(client, late, order(client, late, item["id"])["id"], "pay")

    report = client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=advertiser.auth).json()
    assert (report["impressions"], report["clicks"], report["quartiles"]["complete"]) == (3, 1, 3)
    assert report["ctr"] == round(1 / 3, 4) and report["spend"] == {"amount": 3, "currency": "EUR"}  # 3 × 1 cent
    assert report["purchases"] == {
        "click_through": 1,
        "view_through": 1,
        "revenue": {"amount": 1000, "currency": "EUR"},
    }
    assert report["cost_per_purchase"] == {"amount": 1, "currency": "EUR"}
    assert report["daily"] == [{"day": str(NOON.date()), "impressions": 3, "clicks": 1, "spend_millis": 3000}]
    assert client.get(f"/api/v1/campaigns/{campaign['id']}/report", headers=clicker.auth).status_code == 404


def test_the_campaign_pages_create_start_and_report(client, ready_video, make_account, ctx):
    from tests.web.helpers import csrf_from, sign_in

    _publisher, film, advertiser, spot = ready_video
    fund(ctx, advertiser)
    sign_in(client, advertiser.user.email)
    page = client.get("/merchant/campaigns")
    assert page.status_code == 200 and f'value="video:{spot}"' in page.text and f'value="video:{film}"' not in page.text
    token = csrf_from(page.text)
    form = {
        "csrf_token": token,
        "name": "From the desk",
        "creative": f"video:{spot}",
        "bid": "4.00",
        "budget_total": "20.00",
        "budget_daily": "5.00",
        "days": "10",
    }
    assert client.post("/merchant/campaigns", data={**form, "csrf_token": "forged"}).status_code == 403
    refused = client.post("/merchant/campaigns", data={**form, "creative": f"video:{film}"})
    assert "owner can change it" in refused.text  # someone else's video: the reason is shown, nothing saved
    saved = client.post("/merchant/campaigns", data=form, follow_redirects=False)
    assert saved.status_code == 303
    [campaign] = client.get("/api/v1/campaigns", headers=advertiser.auth).json()
    assert (campaign["name"], campaign["status"], campaign["bid"]["price"]["amount"]) == ("From the desk", "draft", 400)
    start_form = {"csrf_token": token, "status": "active"}
    started = client.post(f"/merchant/campaigns/{campaign['id']}/status", data=start_form, follow_redirects=False)
    assert started.status_code == 303
    assert client.get(f"/api/v1/campaigns/{campaign['id']}", headers=advertiser.auth).json()["status"] == "active"
    [ad] = read_vast(client.get("/api/v1/ads/vast", params={"video_id": film}).content).ads
    client.get(re.sub(r"^https?://[^/]+", "", ad.impressions[0]))
    report_page = client.get(f"/merchant/campaigns/{campaign['id']}")
    assert report_page.status_code == 200 and 'data-testid="campaign-chart"' in report_page.text
    assert "Impressions: 1. Clicks: 0." in report_page.text  # the chart's summary, its canvas's label
    assert 'data-testid="impressions">1<' in report_page.text


def test_the_owner_sets_ad_breaks_on_the_tag_editor_page(client, ready_video, make_account):
    from tests.web.helpers import csrf_from, sign_in

    publisher, film, advertiser, _spot = ready_video
    sign_in(client, publisher.user.email)
    page = client.get(f"/videos/{film}/tags")
    assert "Ads in this video" in page.text
    token = csrf_from(page.text)
    form = {"csrf_token": token, "preroll": "on", "midrolls": "3, 1.5", "overlays": "2", "floor": "4.50"}
    assert client.post(f"/videos/{film}/ad-settings", data=form, follow_redirects=False).status_code == 303
    vmap = client.get(f"/api/v1/videos/{film}/vmap").text
    assert vmap.count("<vmap:AdBreak") == 4 and 'timeOffset="00:00:01.500"' in vmap
    bad = client.post(f"/videos/{film}/ad-settings", data={**form, "midrolls": "three"})
    assert "In the mid-rolls, “three” is not a number of seconds" in bad.text
    past_end = client.post(f"/videos/{film}/ad-settings", data={**form, "midrolls": "99"})
    assert "within the video" in past_end.text
    assert client.get(f"/api/v1/videos/{film}/vmap").text == vmap  # the refused changes left it as it was
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, advertiser.user.email)
    assert "Ads in this video" not in client.get(f"/videos/{film}/tags").text
    theirs = client.post(f"/videos/{film}/ad-settings", data={**form, "csrf_token": csrf_from(client.get("/").text)})
    assert "owner can change it" in theirs.text


def test_mid_rolls_move_to_the_nearest_scene_cut(client, make_account, media_dir):
    from vetrina.ads.serve import snapped
    from vetrina.media.ffmpeg import run_ffmpeg

    assert snapped([3.0, 40.0, 61.0], [4.0, 59.0, 62.0]) == [4.0, 40.0, 62.0]  # too far from any cut: stays
    assert snapped([3.0, 5.0], [4.0]) == [4.0, 5.0]  # two breaks never share a cut

    # Two scenes: 4 s of one picture, then 4 s of another; a cut at 4 s.
    film = media_dir / "two-scenes.mp4"
    if not film.exists():
        run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=25:duration=4",
                "-f",
                "lavfi",
                "-i",
                "smptehdbars=size=320x240:rate=25:duration=4",
                "-filter_complex",
                "[0:v][1:v]concat=n=2:v=1[v]",
                "-map",
                "[v]",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                str(film),
            ]
        )
    owner = make_account(Role.merchant)
    with film.open("rb") as handle:
        video = client.post(
            "/api/v1/videos", headers=owner.auth, data={"title": "Scenes"}, files={"file": ("s.mp4", handle)}
        ).json()["id"]
    wait_for(lambda: client.get(f"/api/v1/videos/{video}").json()["status"] == "ready", timeout_s=60, message="video")
    saved = client.put(
        f"/api/v1/videos/{video}/ad-settings", headers=owner.auth, json={"midrolls_s": [2.5], "snap_to_scenes": True}
    )
    assert saved.status_code == 200 and saved.json()["snap_to_scenes"] is True

    def moved() -> float | None:
        vmap = client.get(f"/api/v1/videos/{video}/vmap").text
        found = re.search(r'timeOffset="00:00:(\d\d\.\d{3})" breakType="linear" breakId="midroll-1"', vmap)
        return float(found.group(1)) if found and found.group(1) != "02.500" else None

    assert abs(wait_for(moved, timeout_s=30, message="the mid-roll to move") - 4.0) <= 0.5
