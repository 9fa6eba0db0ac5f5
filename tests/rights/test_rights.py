"""Distribution rights: licences by territory and window, and every playback path asking them."""

from __future__ import annotations

import itertools
import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.rights.helpers import NOW, at, from_, licence, title
from tests.shoppable.helpers import tag
from tests.web.helpers import assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.ads.vast import read_vast
from vetrina.errors import Conflict
from vetrina.media.models import Video
from vetrina.rights import service as rights
from vetrina.rights.models import Licence


def test_one_title_two_distributors_by_territory(http, ctx, studio, make_account):
    film = title(ctx, studio)
    assert licence(http, studio, film, ["CN"], distributor="Dragon Pictures").status_code == 201
    assert licence(http, studio, film, "rest of world", distributor="Globe Films").status_code == 201

    china = http.get(f"/api/v1/videos/{film}", headers=from_("CN")).json()
    italy = http.get(f"/api/v1/videos/{film}", headers=from_("IT")).json()
    assert china["distributor"] == "Dragon Pictures" and italy["distributor"] == "Globe Films"
    # The media URLs carry the territory: a link copied from China does not play in Italy.
    assert http.get(china["hls_url"], headers=from_("CN")).status_code == 200
    assert_problem(http.get(china["hls_url"], headers=from_("IT")), 451, "unavailable-in-territory")
    assert http.get(italy["hls_url"], headers=from_("IT")).status_code == 200
    assert_problem(http.get(italy["hls_url"], headers=from_("CN")), 451, "unavailable-in-territory")
    listed = [v["id"] for v in http.get("/api/v1/videos", headers=from_("CN")).json()["items"]]
    assert film in listed

    clock.set_clock(lambda: NOW + timedelta(days=31))  # both windows have ended
    assert_problem(http.get(f"/api/v1/videos/{film}", headers=from_("CN")), 451, "unavailable-in-territory")
    assert film not in [v["id"] for v in http.get("/api/v1/videos", headers=from_("IT")).json()["items"]]
    page = http.get(f"/watch/{film}", headers=from_("IT"))
    assert page.status_code == 451 and "not available in your territory" in page.text.lower()
    # Its owner still sees it (to manage it), with links bound, like everyone's, to where the owner is.
    own = http.get(f"/api/v1/videos/{film}", headers=from_("IT", studio.auth)).json()
    assert own["hls_url"] and http.get(own["hls_url"], headers=from_("IT")).status_code == 200
    assert_problem(http.get(own["hls_url"], headers=from_("BR")), 451, "unavailable-in-territory")


def test_every_path_hands_out_links_bound_to_the_viewers_territory(http, ctx, make_account):
    """The hole: lists, the channel, the home page and the embed handed out links that played anywhere."""
    shop = make_account(Role.merchant)  # a merchant's own licensed film, so that its channel lists it too
    film = title(ctx, shop)
    ctx.store.path(f"videos/{film}/hls-test/poster.jpg").write_bytes(b"\xff\xd8 a poster")
    assert licence(http, shop, film, ["IT"], distributor="Italia Film").status_code == 201
    channel = http.get("/api/v1/me/channel", headers=shop.auth).json()["handle"]
    listed = {
        "list": next(v for v in http.get("/api/v1/videos", headers=from_("IT")).json()["items"] if v["id"] == film),
        "channel": next(v for v in http.get(f"/api/v1/channels/{channel}", headers=from_("IT")).json()["videos"]),
    }
    for path, video in listed.items():
        for url in (video["hls_url"], video["poster_url"]):
            assert http.get(url, headers=from_("IT")).status_code == 200, path
            assert_problem(http.get(url, headers=from_("FR")), 451, "unavailable-in-territory")
    for page in (f"/embed/{film}", "/"):
        html = http.get(page, headers=from_("IT")).text
        media = re.findall(r'(/media/[^"\s]+/master\.m3u8)', html) + re.findall(r'(/media/[^"\s]+/poster\.jpg)', html)
        assert media, page
        for url in media:
            assert_problem(http.get(url, headers=from_("FR")), 451, "unavailable-in-territory")


def test_a_poster_link_does_not_play_the_film(http, ctx, studio):
    film = title(ctx, studio)
    poster = http.get(f"/api/v1/videos/{film}").json()["poster_url"]
    swapped = poster.rsplit("/", 1)[0] + "/master.m3u8"
    assert_problem(http.get(swapped), 403, "forbidden")


def test_a_group_and_the_rest_of_the_world(http, ctx, studio):
    film = title(ctx, studio)
    assert licence(http, studio, film, ["Greater China"], distributor="A").json()["territories"] == [
        "CN",
        "HK",
        "MO",
        "TW",
    ]
    assert licence(http, studio, film, ["rest of world"], distributor="B", start=-30, end=10).status_code == 201
    for territory, distributor in (("HK", "A"), ("TW", "A"), ("FR", "B"), ("ZZ", "B")):
        assert http.get(f"/api/v1/videos/{film}", headers=from_(territory)).json()["distributor"] == distributor


def test_overlapping_licences_are_refused_with_the_conflict_named(http, ctx, studio):
    film = title(ctx, studio)
    first = licence(http, studio, film, ["CN", "HK"], distributor="Dragon Pictures").json()
    clash = assert_problem(licence(http, studio, film, ["Greater China"], start=10, end=60), 409, "conflict")
    assert "Dragon Pictures" in clash["detail"] and "CN, HK" in clash["detail"]
    assert clash["licence_id"] == first["id"]
    assert licence(http, studio, film, ["CN"], start=30, end=60).status_code == 201  # starts as the first ends
    assert licence(http, studio, film, ["TW"]).status_code == 201  # another territory
    assert licence(http, studio, film, "rest of world", distributor="Globe").status_code == 201
    assert_problem(licence(http, studio, film, "rest of world", start=-1, end=1), 409, "conflict")
    with ctx.db.session() as session:
        assert len(list(session.scalars(select(Licence).where(Licence.video_id == film)))) == 4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"territories": ["XX", "Narnia"]}, "territories"),
        ({"territories": []}, "territories"),
        ({"territories": ["rest of world", "CN"]}, "territories"),
        ({"ends_at": at(-31)}, "ends_at"),
        ({"starts_at": "2027-01-01T00:00:00"}, "starts_at"),  # no time zone
        ({"uses": ["broadcast"]}, "uses"),
        ({"share_bps": 10_001}, "share_bps"),
        ({"distributor": "x" * 121}, "distributor"),
        ({"video_id": "one"}, "video_id"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_licences_are_422_problems(http, ctx, studio, change, field):
    film = title(ctx, studio)
    body = {"video_id": film, "distributor": "D", "territories": ["CN"], "starts_at": at(0), "ends_at": at(1), **change}
    problem = assert_problem(http.post("/api/v1/licences", headers=studio.auth, json=body), 422, "invalid-input")
    assert field in str(problem)
    with ctx.db.session() as session:
        assert session.scalar(select(Licence.id)) is None


def test_only_the_titles_owner_licenses_it_and_sees_its_licences(http, ctx, studio, make_account):
    film = title(ctx, studio)
    mine = licence(http, studio, film, ["CN"]).json()
    rival, viewer = make_account(Role.partner), make_account(Role.viewer)
    assert_problem(licence(http, rival, film, ["IT"]), 403, "forbidden")
    assert_problem(licence(http, viewer, film, ["IT"]), 403, "forbidden")
    assert http.post("/api/v1/licences", json={}).status_code in (401, 422)
    assert_problem(http.get(f"/api/v1/licences/{mine['id']}", headers=rival.auth), 404, "not-found")
    assert_problem(http.delete(f"/api/v1/licences/{mine['id']}", headers=rival.auth), 404, "not-found")
    assert http.get("/api/v1/licences", headers=rival.auth).json() == []
    assert [x["id"] for x in http.get(f"/api/v1/licences?video_id={film}", headers=studio.auth).json()] == [mine["id"]]
    assert http.delete(f"/api/v1/licences/{mine['id']}", headers=studio.auth).status_code == 204
    # With no licence left the title is not rights-managed: it plays everywhere again.
    assert http.get(f"/api/v1/videos/{film}", headers=from_("BR")).json()["distributor"] is None


def test_timeline_ads_and_orders_ask_the_licence_for_their_use(http, ctx, studio, make_account):
    film = title(ctx, studio)
    licence(http, studio, film, ["IT"], uses=["stream"])
    licence(http, studio, film, ["FR"], uses=["stream", "ads", "commerce"])
    assert http.get(f"/api/v1/videos/{film}/timeline", headers=from_("IT")).status_code == 200
    assert_problem(http.get(f"/api/v1/videos/{film}/timeline", headers=from_("US")), 451, "unavailable-in-territory")
    assert (
        http.get(f"/api/v1/videos/{film}/timeline", headers=from_("FR")).headers["cache-control"].startswith("private")
    )
    # No ads where the licence does not include them: a valid VAST with no ad, a VMAP with no breaks.
    assert read_vast(http.get(f"/api/v1/ads/vast?video_id={film}", headers=from_("IT")).content).ads == []
    assert b"vmap:AdBreak" not in http.get(f"/api/v1/videos/{film}/vmap", headers=from_("IT")).content
    assert b"vmap:AdBreak" in http.get(f"/api/v1/videos/{film}/vmap", headers=from_("FR")).content
    assert_problem(http.get(f"/api/v1/videos/{film}/vmap", headers=from_("US")), 451, "unavailable-in-territory")

    merchant, buyer = make_account(Role.merchant), make_account(Role.viewer)
    product = http.post(
        "/api/v1/products",
        headers=merchant.auth,
        json={"title": "Scarf", "price": {"amount": 1500, "currency": "EUR"}, "stock": 5},
    ).json()
    assert tag(http, studio, film, product["id"], 1, 5).status_code == 201
    order = {"items": [{"product_id": product["id"], "quantity": 1}], "source": {"video_id": film, "second": 3}}
    refused = http.post("/api/v1/orders", headers=from_("IT", buyer.auth), json=order)
    assert_problem(refused, 451, "unavailable-in-territory")
    placed = http.post("/api/v1/orders", headers=from_("FR", buyer.auth), json=order)
    assert placed.status_code == 201, placed.text
    # An order not placed from the video is not the licence's business.
    assert (
        http.post("/api/v1/orders", headers=from_("IT", buyer.auth), json={"items": order["items"]}).status_code == 201
    )


def test_the_list_filter_in_sql_agrees_with_the_rule_in_python(ctx, studio):
    """Random licences on random titles: `listable` (SQL, for lists) and `decide` (Python, for one title) give
    the same answer for every territory and moment."""
    rng = random.Random(7)  # noqa: S311  (test data)
    territories = ["CN", "HK", "IT", "FR", "US", "ZZ"]
    films = [title(ctx, studio, f"film {i}") for i in range(12)]
    with ctx.db.session(write=True) as session:
        owner = session.get(type(studio.user), studio.user.id)
        for film in films:
            for _ in range(rng.randrange(0, 4)):
                start = NOW + timedelta(days=rng.randrange(-20, 10))
                names = ["rest of world"] if rng.random() < 0.3 else rng.sample(territories[:5], rng.randrange(1, 3))
                try:
                    with session.begin_nested():
                        rights.create_licence(
                            ctx,
                            session,
                            owner,
                            film,
                            distributor="D",
                            territories=names,
                            starts_at=start,
                            ends_at=start + timedelta(days=rng.randrange(1, 20)),
                            uses=rng.choice([["stream"], ["ads"], ["stream", "ads"]]),
                        )
                except Conflict:
                    pass
    cache = rights.RightsCache(ttl_s=0)
    with ctx.db.session() as session:
        for territory, offset in itertools.product(territories, (-15, -1, 0, 5, 12)):
            when = NOW + timedelta(days=offset)
            listed = set(session.scalars(select(Video.id).where(Video.id.in_(films), rights.listable(territory, when))))
            expected = {f for f in films if rights.decide(cache.terms(session, f), territory, "stream", when).allowed}
            assert listed == expected, (territory, offset)
