"""Ad budgets cannot be drained (issue 16, hole 9): a viewer without a cookie is one viewer (address and agent),
so frequency caps apply; only served ads are charged, once, from the viewer or address they were served to,
within the hour; bots and bursts are recorded, not charged, and reported to the advertiser; ad requests are
rate-limited per viewer and per address."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

from tests.ads.helpers import NOON, campaign_row
from tests.helpers import ready_video_row
from tests.web.helpers import app_with, assert_problem
from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role, User
from vetrina.ads import tokens
from vetrina.ads.models import AdEvent, Campaign, CampaignDay
from vetrina.ads.vast import read_vast

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
HOME, OFFICE = "198.51.100.7", "203.0.113.9"
PRICE_MILLIS = 50  # alone in the auction, the campaign pays half its 1.00 EUR CPM bid: 50 millis an impression


def film_and_campaign(ctx, make_account, frequency_cap: int | None = None) -> tuple[int, int]:
    """A publisher's ready film and an advertiser's active CPM campaign showing its spot on it."""
    publisher, advertiser = make_account(Role.merchant), make_account(Role.merchant)
    now = clock.now()
    with ctx.db.session(write=True) as session:
        film, spot = ready_video_row(publisher.user.id), ready_video_row(advertiser.user.id, title="Spot")
        session.add_all([film, spot])
        session.flush()
        campaign = campaign_row(
            advertiser.user.id,
            now,
            budget=10_000,
            kind="linear",
            name="Spot",
            video_id=spot.id,
            bid_amount=100,
            frequency_cap_count=frequency_cap,
            frequency_cap_hours=24 if frequency_cap else None,
        )
        session.add(campaign)
        session.flush()
        return film.id, campaign.id


def ask(client, film: int, address: str = HOME, agent: str = BROWSER, cookies: bool = False):
    """The pre-roll's VAST answer for a viewer at `address` as `agent`; without `cookies`, as a client that keeps
    none (each request arrives without the viewer cookie)."""
    if not cookies:
        client.cookies.clear()
    return client.get(
        "/api/v1/ads/vast",
        params={"video_id": film, "slot": "preroll"},
        headers={"X-Forwarded-For": address, "User-Agent": agent},
    )


def impression_path(answer) -> str:
    assert answer.status_code == 200, answer.text
    [ad] = read_vast(answer.content).ads
    return re.sub(r"^https?://[^/]+", "", ad.impressions[0])


def fire(client, path: str, address: str = HOME, agent: str = BROWSER, cookie: str | None = None) -> None:
    client.cookies.clear()
    headers = {"X-Forwarded-For": address, "User-Agent": agent}
    if cookie:
        headers["Cookie"] = f"vetrina_viewer={cookie}"
    assert client.get(path, headers=headers).status_code == 204


def spent(ctx, campaign_id: int) -> tuple[int, int]:
    """(the campaign's spend, what its days add up to), in millis."""
    with ctx.db.session() as session:
        days = session.query(CampaignDay).filter_by(campaign_id=campaign_id).all()
        return session.get(Campaign, campaign_id).spent_millis, sum(d.spent_millis for d in days)


def report(client, ctx, campaign_id: int) -> dict:
    """The campaign's report, as its advertiser reads it."""
    with ctx.db.session(write=True) as session:
        merchant = session.get_one(User, session.get_one(Campaign, campaign_id).merchant_id)
        token = accounts.create_api_token(session, merchant)
    answer = client.get(f"/api/v1/campaigns/{campaign_id}/report", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_viewer_without_cookies_is_one_viewer_and_meets_the_frequency_cap(settings, make_account):
    with app_with(settings, peer="127.0.0.1", ads_campaign_cache_s=0) as (client, ctx):
        film, campaign = film_and_campaign(ctx, make_account, frequency_cap=2)
        for _ in range(2):
            fire(client, impression_path(ask(client, film)))
        assert read_vast(ask(client, film).content).ads == []  # capped, though no request carried a cookie
        # The cookie the first answer offered names the same viewer: still capped with it.
        first = ask(client, film)
        assert read_vast(ask(client, film, cookies=True).content).ads == []
        assert first.cookies.get("vetrina_viewer")
        # Another browser behind the same address is another viewer.
        assert read_vast(ask(client, film, agent=BROWSER.replace("131.0", "130.0")).content).ads
        assert spent(ctx, campaign) == (2 * PRICE_MILLIS, 2 * PRICE_MILLIS)


def test_only_served_ads_are_charged_and_each_once(settings, make_account):
    with app_with(settings, peer="127.0.0.1", ads_campaign_cache_s=0) as (client, ctx):
        film, campaign = film_and_campaign(ctx, make_account)
        path = impression_path(ask(client, film))
        token = path.split("/")[5]
        # Never served: signed with another key, or the served token with its price changed.
        forged = tokens.sign(b"k" * 32, campaign, film, "preroll", "anon:x", 10_000, clock.now().timestamp())
        served = tokens.verify(ctx.store.signing_key, token, clock.now().timestamp())
        payload = tokens.sign(ctx.store.signing_key, campaign, film, "preroll", served.viewer_key, 1, 0).split(".")[0]
        for fake in (forged, f"{payload}.{token.split('.')[1]}"):
            answer = client.get(f"/api/v1/ads/events/{quote(fake)}/impression", headers={"X-Forwarded-For": HOME})
            assert_problem(answer, 404, "not-found")
        assert spent(ctx, campaign) == (0, 0)
        for _ in range(3):  # the player, or someone replaying its beacon
            fire(client, path)
        assert spent(ctx, campaign) == (PRICE_MILLIS, PRICE_MILLIS)
        assert report(client, ctx, campaign)["impressions"] == 1


def test_a_beacon_from_neither_the_viewer_nor_the_address_served_is_not_charged(settings, make_account):
    with app_with(settings, peer="127.0.0.1", ads_campaign_cache_s=0) as (client, ctx):
        film, campaign = film_and_campaign(ctx, make_account)
        stranger = impression_path(ask(client, film))
        fire(client, stranger, address=OFFICE)  # another address, no cookie: another viewer
        assert spent(ctx, campaign) == (0, 0)
        # The viewer's own cookie from another address (a phone changing networks) is charged; so is the address
        # it was served to without the cookie (a click leaving a third-party frame).
        served = ask(client, film)
        cookie = served.cookies["vetrina_viewer"]
        fire(client, impression_path(served), address=OFFICE, cookie=cookie)
        fire(client, impression_path(ask(client, film, address=OFFICE)), address=OFFICE, cookie="another1")
        assert spent(ctx, campaign) == (2 * PRICE_MILLIS, 2 * PRICE_MILLIS)
        filtered = report(client, ctx, campaign)["filtered"]
        assert filtered == {"impressions": 1, "clicks": 0, "by_reason": {"other_viewer": 1}}


def test_a_bots_impression_is_recorded_as_filtered_and_reported_not_charged(settings, make_account):
    with app_with(settings, peer="127.0.0.1", ads_campaign_cache_s=0) as (client, ctx):
        film, campaign = film_and_campaign(ctx, make_account)
        bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        fire(client, impression_path(ask(client, film, agent=bot)), agent=bot)
        for script in ("python-requests/2.32.3", "curl/8.5.0", "HeadlessChrome/131.0", ""):
            fire(client, impression_path(ask(client, film, agent=script)), agent=script)
        assert spent(ctx, campaign) == (0, 0)
        with ctx.db.session() as session:
            assert {(e.event, e.filtered_reason, e.charged_millis) for e in session.query(AdEvent)} == {
                ("impression", "bot", 0)
            }
        numbers = report(client, ctx, campaign)
        assert (numbers["impressions"], numbers["spend"]["amount"], numbers["daily"]) == (0, 0, [])
        assert numbers["filtered"] == {"impressions": 5, "clicks": 0, "by_reason": {"bot": 5}}


def test_a_late_beacon_is_not_charged(settings, make_account):
    moment = [NOON]
    clock.set_clock(lambda: moment[0])
    with app_with(settings, peer="127.0.0.1", ads_campaign_cache_s=0) as (client, ctx):
        film, campaign = film_and_campaign(ctx, make_account)
        path = impression_path(ask(client, film))
        moment[0] = NOON + timedelta(hours=2)
        fire(client, path)
        assert spent(ctx, campaign) == (0, 0)
        assert report(client, ctx, campaign)["filtered"]["by_reason"] == {"late": 1}


def test_bursts_are_filtered_and_ad_requests_are_limited(settings, make_account):
    with app_with(settings, peer="127.0.0.1", ads_campaign_cache_s=0, rate_limits={"ads": "2/minute"}) as (
        client,
        ctx,
    ):
        film, campaign = film_and_campaign(ctx, make_account)
        first, second = impression_path(ask(client, film)), impression_path(ask(client, film))
        refused = ask(client, film)  # a third ad request by this viewer within the minute
        assert_problem(refused, 429, "too-many-requests")
        assert int(refused.headers["Retry-After"]) >= 1
        fire(client, first)
        fire(client, first)  # a repeat: counted once, but it counts towards the burst
        fire(client, second)  # the third impression beacon within the minute: a burst
        assert spent(ctx, campaign) == (PRICE_MILLIS, PRICE_MILLIS)
        numbers = report(client, ctx, campaign)
        assert numbers["impressions"] == 1
        assert numbers["filtered"] == {"impressions": 1, "clicks": 0, "by_reason": {"burst": 1}}
        # Another viewer behind the same address is still served (the address allows ten times more).
        assert read_vast(ask(client, film, agent=BROWSER.replace("131.0", "130.0")).content).ads
