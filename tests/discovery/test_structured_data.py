"""Search engines' structured data, read from the real rendered pages with extruct: watch pages carry a VideoObject
with one Clip per tagged product moment and a Product per featured product, live show pages a VideoObject published
by a BroadcastEvent, product pages a Product with its Offer."""

from __future__ import annotations

from datetime import timedelta

from tests.discovery.helpers import (
    assert_product,
    assert_video_object,
    assert_vod_object,
    json_ld,
    of_type,
    photographed_product,
    tag,
    video_row,
)
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.live import service as live
from vetrina.live.models import LiveShow, ShowStatus


def test_a_watch_page_carries_its_video_its_key_moments_and_its_products(live_server, site, make_account):
    merchant = make_account(Role.merchant)
    shirt = photographed_product(site, merchant, stock=5)
    bag = photographed_product(site, merchant, stock=0)  # sold out: still featured, OutOfStock
    video_id = video_row(live_server.ctx, merchant.user.id, title="Summer looks", description="Linen and light.")
    tag(site, merchant, video_id, shirt["id"], 2.4, 7.6)
    tag(site, merchant, video_id, bag["id"], 12, 20, label="The straw bag")
    tag(site, merchant, video_id, shirt["id"], 30, 75)  # past the 60 s end: clipped to it

    page = site.get(f"/watch/{video_id}")
    assert page.status_code == 200
    items = json_ld(page.text, str(page.url))
    [video] = of_type(items, "VideoObject")
    assert_vod_object(video, live_server.url, video_id)
    assert video["name"] == "Summer looks" and video["description"] == "Linen and light."
    assert video["duration"] == "PT1M"
    clips = video["hasPart"]
    assert [(c["@type"], c["name"], c["startOffset"], c["endOffset"]) for c in clips] == [
        ("Clip", shirt["title"], 2, 8),
        ("Clip", "The straw bag", 12, 20),
        ("Clip", shirt["title"], 30, 60),
    ]
    assert [c["url"] for c in clips] == [f"{live_server.url}/watch/{video_id}?t={s}" for s in (2, 12, 30)]
    assert site.get(clips[1]["url"]).status_code == 200  # the moment's page plays from there (player.js: ?t=)
    products = {item["name"]: item for item in of_type(items, "Product")}
    assert set(products) == {shirt["title"], bag["title"]}  # each featured product once
    for item in products.values():
        assert_product(item)
    assert products[shirt["title"]]["offers"]["price"] == "19.99"
    assert products[shirt["title"]]["offers"]["priceCurrency"] == "EUR"
    assert products[bag["title"]]["offers"]["availability"] == "https://schema.org/OutOfStock"

    # The thumbnail is a stable address that leads to the poster's fresh signed link.
    poster = site.get(video["thumbnailUrl"][0])
    assert poster.status_code == 302
    assert "/media/" in poster.headers["location"] and "poster.jpg" in poster.headers["location"]


def test_a_title_that_closes_the_script_stays_inside_it(live_server, site, make_account):
    merchant = make_account(Role.merchant)
    title = 'Look</script><script>alert("x")</script><!--'
    item = photographed_product(site, merchant, title=title)
    video_id = video_row(live_server.ctx, merchant.user.id, title=title)
    tag(site, merchant, video_id, item["id"], 1, 3, label="</script>")

    page = site.get(f"/watch/{video_id}")
    assert '<script>alert("x")' not in page.text
    items = json_ld(page.text, str(page.url))
    [video] = of_type(items, "VideoObject")
    assert video["name"] == title and video["hasPart"][0]["name"] == "</script>"
    assert [p["name"] for p in of_type(items, "Product")] == [title]
    product_page = site.get(f"/p/{item['id']}")
    assert '<script>alert("x")' not in product_page.text
    assert [p["name"] for p in of_type(json_ld(product_page.text, str(product_page.url)), "Product")] == [title]


def test_a_product_page_carries_its_product_and_offer(live_server, site, make_account):
    merchant = make_account(Role.merchant)
    item = photographed_product(site, merchant, price=4500, currency="USD", stock=3)
    page = site.get(f"/p/{item['id']}")
    [found] = of_type(json_ld(page.text, str(page.url)), "Product")
    assert_product(found)
    assert (found["name"], found["offers"]["price"], found["offers"]["priceCurrency"]) == (
        item["title"],
        "45.00",
        "USD",
    )
    assert found["offers"]["availability"] == "https://schema.org/InStock"


def test_a_watch_page_without_tags_has_no_key_moments_and_a_processing_video_no_data(live_server, site, make_account):
    merchant = make_account(Role.merchant)
    plain = video_row(live_server.ctx, merchant.user.id, title="Plain")
    [video] = of_type(json_ld(site.get(f"/watch/{plain}").text, live_server.url), "VideoObject")
    assert "hasPart" not in video
    assert_vod_object(video, live_server.url, plain)
    processing = video_row(live_server.ctx, merchant.user.id, status="processing", published=True)
    owner_view = site.get(f"/watch/{processing}", headers=merchant.auth)
    assert owner_view.status_code == 200
    assert json_ld(owner_view.text, live_server.url) == []


def test_a_live_show_is_a_broadcast_event_with_its_start_and_then_its_end(live_server, site, make_account):
    ctx = live_server.ctx
    host = make_account(Role.merchant)
    item = photographed_product(site, host)
    starts = clock.now() + timedelta(hours=2)
    with ctx.db.session(write=True) as session:
        show, _key = live.create_show(session, host.user, "Friday drop", starts, [item["id"]])
        session.flush()
        show_id = show.id

    page = site.get(f"/live/{show_id}")
    items = json_ld(page.text, str(page.url))
    [video] = of_type(items, "VideoObject")
    assert_video_object(video, live_server.url)
    broadcast = video["publication"]
    assert broadcast["@type"] == "BroadcastEvent" and broadcast["isLiveBroadcast"] is True
    assert broadcast["startDate"] == starts.isoformat(timespec="seconds")
    assert "endDate" not in broadcast
    [featured] = of_type(items, "Product")
    assert_product(featured)

    went_live, ended = clock.now() - timedelta(hours=1), clock.now() - timedelta(minutes=5)
    with ctx.db.session(write=True) as session:
        row = session.get(LiveShow, show_id)
        row.status, row.went_live_at, row.ended_at = ShowStatus.ended.value, went_live, ended
    [video] = of_type(json_ld(site.get(f"/live/{show_id}").text, live_server.url), "VideoObject")
    assert video["publication"]["startDate"] == went_live.isoformat(timespec="seconds")
    assert video["publication"]["endDate"] == ended.isoformat(timespec="seconds")
