"""Product tags (who may tag, where, when) and the playback timeline, over the API."""

from __future__ import annotations

import pytest

from tests.commerce.helpers import funded_buyer, product
from tests.helpers import ready_video_row
from tests.shoppable.helpers import tag
from tests.web.helpers import assert_problem
from vetrina.accounts.models import Role


def test_the_owner_tags_and_the_timeline_shows_cards_in_time_order(client, video):
    owner, video_id = video
    shirt = product(client, owner, price=5900, stock=4)
    mug = product(client, owner, price=1800, stock=2)
    later = tag(client, owner, video_id, mug["id"], 30, 40, box={"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}, label="Mug")
    first = tag(client, owner, video_id, shirt["id"], 5, 12.5)
    assert later.status_code == first.status_code == 201, later.text
    assert later.json()["box"] == {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}

    response = client.get(f"/api/v1/videos/{video_id}/timeline")
    assert response.status_code == 200
    body = response.json()
    assert [t["product"]["title"] for t in body["tags"]] == [shirt["title"], mug["title"]]
    first_card = body["tags"][0]
    assert (first_card["start_s"], first_card["end_s"]) == (5, 12.5)
    assert first_card["product"]["price"] == {"amount": 5900, "currency": "EUR"}
    assert first_card["product"]["in_stock"] is True and body["ads"] == []

    etag = response.headers["etag"]
    assert client.get(f"/api/v1/videos/{video_id}/timeline", headers={"If-None-Match": etag}).status_code == 304
    client.patch(f"/api/v1/videos/{video_id}/tags/{first.json()['id']}", headers=owner.auth, json={"end_s": 14})
    changed = client.get(f"/api/v1/videos/{video_id}/timeline", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_overlaps_overruns_deleted_and_sold_out_products(client, video, make_account):
    owner, video_id = video
    kept = product(client, owner, price=2000, stock=1)
    gone = product(client, owner, price=2000, stock=5)
    twin = product(client, owner, price=2100, stock=3)
    far = product(client, owner, price=9000, stock=3)
    for product_id, start, end in [(kept["id"], 10, 20), (gone["id"], 15, 25), (kept["id"], 55, 90)]:
        assert tag(client, owner, video_id, product_id, start, end).status_code == 201
    assert tag(client, owner, video_id, kept["id"], 61, 70).status_code == 422  # starts after the end
    client.delete(f"/api/v1/products/{gone['id']}", headers=owner.auth)
    buyer = funded_buyer(client, make_account)
    client.post("/api/v1/orders", headers=buyer.auth, json={"items": [{"product_id": kept["id"], "quantity": 1}]})

    tags = client.get(f"/api/v1/videos/{video_id}/timeline").json()["tags"]
    assert [(t["start_s"], t["end_s"]) for t in tags] == [(10, 20), (55, 60)]  # deleted dropped, overrun clipped
    sold_out = tags[0]["product"]
    assert sold_out["in_stock"] is False
    assert sold_out["alternative"]["id"] == twin["id"]  # same merchant, in stock, closest price
    assert far["id"] != twin["id"]


def test_who_may_tag(client, video, make_account):
    owner, video_id = video
    rival, viewer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    theirs = product(client, rival)
    assert tag(client, rival, video_id, theirs["id"], 1, 2).status_code == 403
    assert tag(client, viewer, video_id, theirs["id"], 1, 2).status_code == 403
    allowed = client.patch(f"/api/v1/videos/{video_id}", headers=owner.auth, json={"allow_merchant_tags": True})
    assert allowed.status_code == 200 and allowed.json()["allow_merchant_tags"] is True
    own = tag(client, rival, video_id, theirs["id"], 1, 2)
    assert own.status_code == 201
    owners_product = product(client, owner)
    assert tag(client, rival, video_id, owners_product["id"], 3, 4).status_code == 403  # only its own products
    url = f"/api/v1/videos/{video_id}/tags/{own.json()['id']}"
    other = make_account(Role.merchant)
    assert client.patch(url, headers=other.auth, json={"label": "mine"}).status_code == 403
    assert client.patch(url, headers=rival.auth, json={"label": "Scarf"}).json()["label"] == "Scarf"
    assert client.delete(url, headers=admin.auth).status_code == 204  # an admin moderates
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"start_s": 5, "end_s": 5},
        {"start_s": 8, "end_s": 2},
        {"start_s": -1, "end_s": 2},
        {"start_s": 1, "end_s": 2, "box": {"x": 0.8, "y": 0, "w": 0.5, "h": 0.5}},
        {"start_s": 1, "end_s": 2, "box": {"x": 0, "y": 0, "w": 0, "h": 0.5}},
        {"start_s": 1, "end_s": 2, "keyframes": [{"t": 9, "x": 0, "y": 0, "w": 0.1, "h": 0.1}]},
        {"start_s": "soon", "end_s": 2},
        {"start_s": 1, "end_s": 2, "label": "x" * 101},
        {"start_s": 1, "end_s": 2, "colour": "red"},
    ],
)
def test_bad_tags_are_refused(client, video, body):
    owner, video_id = video
    item = product(client, owner)
    response = client.post(
        f"/api/v1/videos/{video_id}/tags", headers=owner.auth, json={"product_id": item["id"], **body}
    )
    assert response.status_code == 422, response.text
    assert client.get(f"/api/v1/videos/{video_id}/tags").json() == []


def test_orders_record_the_video_and_second(client, ctx, video, make_account):
    owner, video_id = video
    item, untagged = product(client, owner), product(client, owner)
    assert tag(client, owner, video_id, item["id"], 1, 20).status_code == 201
    buyer = funded_buyer(client, make_account)

    def order_from(video_id: int, product_id: int = item["id"]):
        body = {"items": [{"product_id": product_id, "quantity": 1}], "source": {"video_id": video_id, "second": 12.34}}
        return client.post("/api/v1/orders", headers=buyer.auth, json=body)

    placed = order_from(video_id)
    assert placed.status_code == 201 and placed.json()["source"] == {"video_id": video_id, "second": 12.34}
    # A source counts towards a video's sales and a title's revenue share: it must be one the buyer saw.
    assert_problem(order_from(999999), 422, "invalid-input")
    not_shown = assert_problem(order_from(video_id, untagged["id"]), 422, "invalid-input")
    assert not_shown["field"] == "source.video_id"
    with ctx.db.session() as session:
        private = ready_video_row(owner.user.id, published=False)
        session.add(private)
        session.flush()
        private_id = private.id
    assert tag(client, owner, private_id, item["id"], 1, 20).status_code == 201
    hidden = assert_problem(order_from(private_id), 422, "invalid-input")  # as if it did not exist
    assert hidden["detail"] == f"There is no video {private_id} to order from."


def test_a_video_made_private_stops_serving_its_cached_timeline(client, video):
    owner, video_id = video
    item = product(client, owner)
    assert tag(client, owner, video_id, item["id"], 1, 5).status_code == 201
    public = client.get(f"/api/v1/videos/{video_id}/timeline")
    assert public.status_code == 200 and public.headers["cache-control"].startswith("public")
    client.patch(f"/api/v1/videos/{video_id}", headers=owner.auth, json={"published": False})
    assert client.get(f"/api/v1/videos/{video_id}/timeline").status_code == 404  # within the cache's lifetime
    private = client.get(f"/api/v1/videos/{video_id}/timeline", headers=owner.auth)
    assert private.status_code == 200 and private.headers["cache-control"] == "private, no-store"


def test_merchants_lose_editing_rights_when_the_owner_stops_allowing_tags(client, video, make_account):
    owner, video_id = video
    rival = make_account(Role.merchant)
    theirs = product(client, rival)
    client.patch(f"/api/v1/videos/{video_id}", headers=owner.auth, json={"allow_merchant_tags": True})
    created = tag(client, rival, video_id, theirs["id"], 1, 2).json()
    client.patch(f"/api/v1/videos/{video_id}", headers=owner.auth, json={"allow_merchant_tags": False})
    url = f"/api/v1/videos/{video_id}/tags/{created['id']}"
    assert client.patch(url, headers=rival.auth, json={"end_s": 24}).status_code == 403
    assert client.patch(url, headers=owner.auth, json={"end_s": 3}).status_code == 200


def test_nulls_in_a_tag_change_are_422_but_a_null_box_removes_the_box(client, video):
    owner, video_id = video
    item = product(client, owner)
    created = tag(client, owner, video_id, item["id"], 1, 5, box={"x": 0, "y": 0, "w": 0.5, "h": 0.5}).json()
    url = f"/api/v1/videos/{video_id}/tags/{created['id']}"
    for field in ("start_s", "end_s", "keyframes", "label", "product_id"):
        assert client.patch(url, headers=owner.auth, json={field: None}).status_code == 422, field
    cleared = client.patch(url, headers=owner.auth, json={"box": None})
    assert cleared.status_code == 200 and cleared.json()["box"] is None
