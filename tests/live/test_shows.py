"""Live shows over the API, and the RTMP server's publish checks as nginx-rtmp calls them (a form POST on a secret
path): who may host, what a show features, keys shown once and replaced, one publisher per key, and the states."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.commerce.helpers import product
from tests.web.helpers import assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.live import rtmp
from vetrina.live import service as live
from vetrina.live.models import LiveShow


def schedule(client, host, **body) -> dict:
    response = client.post("/api/v1/live", headers=host.auth, json={"title": "Spring teas, live", **body})
    assert response.status_code == 201, response.text
    return response.json()


def callback(client, ctx, route: str, key: str, secret: str | None = None, **form) -> object:
    """nginx-rtmp's callback `on_{route}` about the stream `key` (its `call` field: `route` unless given)."""
    secret = secret if secret is not None else rtmp.callback_secret(ctx.settings)
    fields = {"call": route, "app": "live", "name": key, "addr": "127.0.0.1", "clientid": "7", **form}
    return client.post(f"/rtmp/{secret}/on_{route}", data=fields, follow_redirects=False)


def status(client, show_id: int) -> str:
    return client.get(f"/api/v1/live/{show_id}").json()["status"]


def test_a_merchant_schedules_a_show_of_its_products_and_its_key_is_shown_once(client, ctx, make_account):
    merchant = make_account(Role.merchant)
    teas = [product(client, merchant)["id"], product(client, merchant)["id"]]
    made = schedule(client, merchant, product_ids=[teas[1], teas[0], teas[1]], starts_at="2027-01-05T18:00:00+01:00")
    assert made["status"] == "scheduled" and made["host_id"] == merchant.user.id
    assert made["product_ids"] == [teas[1], teas[0]]  # the host's order, each once
    assert made["stream_key"].startswith("live_") and made["rtmp_url"] == ctx.settings.live_rtmp_url
    assert made["starts_at"].startswith("2027-01-05T17:00:00")

    seen = client.get(f"/api/v1/live/{made['id']}")  # anyone, signed in or not
    assert seen.status_code == 200 and "stream_key" not in seen.json()
    assert made["stream_key"] not in seen.text
    listed = client.get("/api/v1/live", params={"status": "scheduled"}).json()
    assert [s["id"] for s in listed] == [made["id"]] and "stream_key" not in listed[0]
    assert client.get("/api/v1/live", params={"status": "live"}).json() == []


def test_only_merchants_and_partners_host_and_a_show_features_only_its_hosts_products(client, make_account):
    merchant, other, viewer = make_account(Role.merchant), make_account(Role.merchant), make_account(Role.viewer)
    theirs = product(client, other)["id"]
    assert_problem(client.post("/api/v1/live", headers=viewer.auth, json={"title": "x"}), 403, "forbidden")
    assert_problem(client.post("/api/v1/live", json={"title": "x"}), 401, "not-authenticated")
    refused = client.post("/api/v1/live", headers=merchant.auth, json={"title": "x", "product_ids": [theirs]})
    assert_problem(refused, 422, "invalid-input")
    partner = make_account(Role.partner)
    assert schedule(client, partner)["product_ids"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"title": "bell\x07"},
        {"title": "x", "product_ids": list(range(1, 52))},
        {"title": "x", "product_ids": [0]},
        {"title": "x", "starts_at": "2027-01-05T18:00:00"},  # no time zone
        {"title": "x", "stream_key": "mine"},
        {},
    ],
)
def test_bad_shows_are_refused_with_a_problem(client, make_account, body):
    response = client.post("/api/v1/live", headers=make_account(Role.merchant).auth, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_rtmp_server_turns_a_show_live_once_per_key_and_back(client, ctx, make_account):
    merchant = make_account(Role.merchant)
    show = schedule(client, merchant)
    key = show["stream_key"]

    assert callback(client, ctx, "publish", key, secret="0" * 32).status_code == 404  # a stranger: nothing here
    assert status(client, show["id"]) == "scheduled"
    assert_problem(callback(client, ctx, "publish", "live_guessed"), 403, "publish-refused")
    accepted = callback(client, ctx, "publish", key)
    assert accepted.status_code == 302 and accepted.headers["location"] == f"show-{show['id']}"  # the key: renamed
    assert status(client, show["id"]) == "live"
    assert_problem(callback(client, ctx, "publish", key), 403, "publish-refused")  # one publisher per key
    assert callback(client, ctx, "update", key).status_code == 200
    assert callback(client, ctx, "publish_done", key).status_code == 200
    assert status(client, show["id"]) == "interrupted"
    assert_problem(callback(client, ctx, "update", key), 403, "publish-refused")
    assert callback(client, ctx, "publish", key).status_code == 302  # the same key resumes the show
    read = client.get(f"/api/v1/live/{show['id']}").json()
    assert read["status"] == "live" and read["went_live_at"] is not None


def test_a_replaced_key_or_an_ended_show_is_refused_and_its_publisher_dropped(client, ctx, make_account):
    merchant, other = make_account(Role.merchant), make_account(Role.merchant)
    show = schedule(client, merchant)
    old = show["stream_key"]
    assert callback(client, ctx, "publish", old).status_code == 302

    assert_problem(client.post(f"/api/v1/live/{show['id']}/stream-key", headers=other.auth), 403, "forbidden")
    assert_problem(client.post(f"/api/v1/live/{show['id']}/end", headers=other.auth), 403, "forbidden")
    assert_problem(client.post("/api/v1/live/2147483000/end", headers=merchant.auth), 404, "not-found")
    replaced = client.post(f"/api/v1/live/{show['id']}/stream-key", headers=merchant.auth)
    assert replaced.status_code == 200
    new = replaced.json()["stream_key"]
    assert new != old and replaced.json()["status"] == "interrupted"
    assert_problem(callback(client, ctx, "update", old), 403, "publish-refused")  # nginx drops the old publisher
    assert_problem(callback(client, ctx, "publish", old), 403, "publish-refused")
    assert callback(client, ctx, "publish", new).status_code == 302

    ended = client.post(f"/api/v1/live/{show['id']}/end", headers=merchant.auth)
    assert ended.status_code == 200 and ended.json()["status"] == "ended" and ended.json()["ended_at"]
    assert_problem(callback(client, ctx, "update", new), 403, "publish-refused")
    assert_problem(callback(client, ctx, "publish", new), 403, "publish-refused")
    assert callback(client, ctx, "publish_done", new).status_code == 200
    assert status(client, show["id"]) == "ended"
    assert_problem(client.post(f"/api/v1/live/{show['id']}/stream-key", headers=merchant.auth), 409, "conflict")


def test_the_rtmp_callbacks_refuse_bad_forms_without_harm(client, ctx):
    secret = rtmp.callback_secret(ctx.settings)
    assert client.post(f"/rtmp/{secret}/on_publish", data={"call": "publish"}).status_code == 422  # no name
    assert client.post(f"/rtmp/{secret}/on_publish", data={"name": "k" * 600}).status_code == 422
    assert client.post(f"/rtmp/{secret}/on_publish", json={"name": "x"}).status_code == 422


def test_a_host_keeps_at_most_max_open_shows_not_ended(client, make_account, monkeypatch):
    monkeypatch.setattr(live, "MAX_OPEN_SHOWS", 2)
    merchant = make_account(Role.merchant)
    first, _second = schedule(client, merchant), schedule(client, merchant)
    assert_problem(client.post("/api/v1/live", headers=merchant.auth, json={"title": "third"}), 409, "conflict")
    assert client.post(f"/api/v1/live/{first['id']}/end", headers=merchant.auth).status_code == 200
    schedule(client, merchant)  # an ended show no longer counts


def test_a_publisher_cannot_name_another_key_or_connection_than_nginx_does(client, ctx, make_account):
    """nginx-rtmp appends the publisher's query string to its callback form unescaped: a field named twice keeps
    nginx's first value, so `live/mine?name=someone-elses` is checked as `mine`."""
    merchant, other = make_account(Role.merchant), make_account(Role.merchant)
    mine, theirs = schedule(client, merchant), schedule(client, other)
    secret = rtmp.callback_secret(ctx.settings)
    form = f"call=publish&name=live_unknown&clientid=3&addr=127.0.0.1&name={theirs['stream_key']}&clientid=9"
    sneaky = client.post(
        f"/rtmp/{secret}/on_publish", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_problem(sneaky, 403, "publish-refused")
    assert status(client, theirs["id"]) == "scheduled"
    assert callback(client, ctx, "publish", mine["stream_key"], clientid="3", addr="10.0.0.1\x00").status_code == 302
    # A refused second publisher's end (another connection) does not interrupt the show.
    assert callback(client, ctx, "publish_done", mine["stream_key"], clientid="4").status_code == 200
    assert status(client, mine["id"]) == "live"
    assert_problem(callback(client, ctx, "update", mine["stream_key"], clientid="4"), 403, "publish-refused")
    assert callback(client, ctx, "update", mine["stream_key"], clientid="3").status_code == 200


def test_a_live_show_whose_rtmp_server_went_silent_can_be_published_again(client, ctx, make_account):
    """nginx gave up on a callback, or restarted, and never said the publisher left: once it has not checked the
    show for SILENT_AFTER_S, the key may publish again instead of being refused as already publishing."""
    show = schedule(client, make_account(Role.merchant))
    key = show["stream_key"]
    assert callback(client, ctx, "publish", key, clientid="1").status_code == 302
    assert_problem(callback(client, ctx, "publish", key, clientid="2"), 403, "publish-refused")
    with ctx.db.session(write=True) as session:
        session.execute(
            update(LiveShow)
            .where(LiveShow.id == show["id"])
            .values(checked_at=clock.now() - timedelta(seconds=live.SILENT_AFTER_S + 1))
        )
    assert callback(client, ctx, "publish", key, clientid="2").status_code == 302
    assert_problem(callback(client, ctx, "update", key, clientid="1"), 403, "publish-refused")  # the old one: dropped


def test_a_start_time_out_of_range_is_refused(client, make_account):
    merchant = make_account(Role.merchant)
    for starts_at in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        response = client.post("/api/v1/live", headers=merchant.auth, json={"title": "x", "starts_at": starts_at})
        assert_problem(response, 422, "invalid-input")


def test_only_the_live_encoder_with_its_token_may_play_a_shows_raw_stream(client, ctx):
    name = rtmp.stream_name(5)
    token = rtmp.pull_token(ctx.settings, name, clock.now().timestamp())
    stale = rtmp.pull_token(ctx.settings, name, clock.now().timestamp() - 2 * rtmp.PULL_TOKEN_TTL_S)
    assert_problem(callback(client, ctx, "play", name, pull=stale), 403, "publish-refused")  # seen in a log: useless
    # ... but a pull it started in time goes on (nginx re-checks it every 5 s for as long as the show lasts).
    assert callback(client, ctx, "update", name, call="update_play", pull=stale).status_code == 200
    assert callback(client, ctx, "play", name, pull=token).status_code == 200
    assert callback(client, ctx, "update", name, call="update_play", pull=token).status_code == 200
    assert_problem(callback(client, ctx, "play", name), 403, "publish-refused")
    assert_problem(callback(client, ctx, "play", name, pull="0" * 32), 403, "publish-refused")
    assert_problem(callback(client, ctx, "play", rtmp.stream_name(6), pull=token), 403, "publish-refused")
    assert_problem(callback(client, ctx, "update", name, call="update_play", pull="x"), 403, "publish-refused")
    assert callback(client, ctx, "play", name, pull=token, secret="0" * 32).status_code == 404


def test_a_show_nginx_stopped_checking_is_interrupted_then_ended_after_the_grace(client, ctx, make_account):
    merchant = make_account(Role.merchant)
    show = schedule(client, merchant)
    assert callback(client, ctx, "publish", show["stream_key"]).status_code == 302
    with ctx.db.session(write=True) as session:
        assert live.interrupt_silent(session) == []  # checked a moment ago
        session.execute(
            update(LiveShow).where(LiveShow.id == show["id"]).values(checked_at=clock.now() - timedelta(minutes=1))
        )
    with ctx.db.session(write=True) as session:  # nginx restarted, or its on_publish_done was lost
        assert live.interrupt_silent(session) == [show["id"]]
    assert status(client, show["id"]) == "interrupted"
    with ctx.db.session(write=True) as session:
        assert live.end_unresumed(session, grace_s=300) == []
        session.execute(
            update(LiveShow)
            .where(LiveShow.id == show["id"])
            .values(interrupted_at=clock.now() - timedelta(seconds=301))
        )
    with ctx.db.session(write=True) as session:
        assert live.end_unresumed(session, grace_s=300) == [show["id"]]
    assert status(client, show["id"]) == "ended"
