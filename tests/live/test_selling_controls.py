"""The live selling controls over the API: pins (one product at a time, the host's featured ones only), chat with
its moderation (a muted viewer reaches nobody, a banned one cannot write, a deleted message is taken back), and the
rules a stranger meets."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.commerce.helpers import product
from tests.live.helpers import go_live
from tests.web.helpers import assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.live import controls
from vetrina.live.models import EventType


def on_air(client, ctx, host, product_ids: list[int]) -> dict:
    show = client.post("/api/v1/live", headers=host.auth, json={"title": "Tea live", "product_ids": product_ids})
    assert show.status_code == 201, show.text
    go_live(client, ctx.settings, show.json()["stream_key"])
    return show.json()


def events(ctx, show_id: int) -> list[tuple[str, dict]]:
    with ctx.db.session() as session:
        return [(e.type, e.payload) for e in controls.events_after(session, show_id, 0)]


def test_the_host_pins_its_featured_products_one_at_a_time(client, ctx, make_account):
    merchant, stranger = make_account(Role.merchant), make_account(Role.merchant)
    green, black = product(client, merchant)["id"], product(client, merchant)["id"]
    not_featured, theirs = product(client, merchant)["id"], product(client, stranger)["id"]
    show = client.post("/api/v1/live", headers=merchant.auth, json={"title": "Tea", "product_ids": [green, black]})
    url = f"/api/v1/live/{show.json()['id']}/pins"
    assert_problem(client.post(url, headers=merchant.auth, json={"product_id": green}), 409, "conflict")  # not live
    go_live(client, ctx.settings, show.json()["stream_key"])

    ten_s_ago = clock.now() - timedelta(seconds=10)  # what the host's preview showed when they clicked
    first = client.post(url, headers=merchant.auth, json={"product_id": green, "stream_time": ten_s_ago.isoformat()})
    assert first.status_code == 201 and first.json()["unpinned_at"] is None
    assert abs(datetime.fromisoformat(first.json()["pinned_at"]) - ten_s_ago) < timedelta(milliseconds=1)
    second = client.post(url, headers=merchant.auth, json={"product_id": black})
    assert second.status_code == 201
    pins = client.get(url).json()  # public: the replay's moments
    assert [p["product_id"] for p in pins] == [green, black]
    assert pins[0]["unpinned_at"] == pins[1]["pinned_at"]  # the new pin took the old one's place at its moment
    kinds = [kind for kind, _ in events(ctx, show.json()["id"])]
    assert kinds == ["pin", "unpin", "pin"]
    card = events(ctx, show.json()["id"])[-1][1]
    assert card["product"]["id"] == black and card["product"]["price_display"]
    assert card["pin_id"] == second.json()["pin_id"]

    long_ago = (clock.now() - timedelta(hours=2)).isoformat()  # out of the window: the stream time of now
    third = client.post(url, headers=merchant.auth, json={"product_id": green, "stream_time": long_ago})
    assert third.json()["pinned_at"] > second.json()["pinned_at"]
    assert_problem(client.post(url, headers=stranger.auth, json={"product_id": green}), 403, "forbidden")
    for other in (not_featured, theirs):
        assert_problem(client.post(url, headers=merchant.auth, json={"product_id": other}), 422, "invalid-input")
    assert client.delete(f"{url}/{third.json()['pin_id']}", headers=stranger.auth).status_code == 403
    assert client.delete(f"{url}/{third.json()['pin_id']}", headers=merchant.auth).status_code == 204
    assert_problem(client.delete(f"{url}/{third.json()['pin_id']}", headers=merchant.auth), 409, "conflict")
    assert_problem(client.delete(f"{url}/999999", headers=merchant.auth), 404, "not-found")


def test_chat_is_moderated_by_the_host(client, ctx, make_account):
    merchant, ann, bob, eve = (make_account(role) for role in (Role.merchant, Role.viewer, Role.viewer, Role.viewer))
    show = on_air(client, ctx, merchant, [])
    chat, moderation = f"/api/v1/live/{show['id']}/chat", f"/api/v1/live/{show['id']}/moderation"
    hello = client.post(chat, headers=ann.auth, json={"text": "  Hello from Milan  "})
    assert hello.status_code == 201 and hello.json()["text"] == "Hello from Milan" and hello.json()["delivered"]
    assert hello.json()["viewer"].startswith("v") and str(ann.user.id) not in hello.json()["viewer"]
    assert client.post(chat, headers=merchant.auth, json={"text": "Welcome!"}).status_code == 201
    assert_problem(client.post(chat, headers=bob.auth, json={"text": "bell\x07ring"}), 422, "invalid-input")
    assert client.post(chat, headers=bob.auth, json={"text": "x" * 301}).status_code == 422
    ctx.settings.live_blocked_words = ["scam"]
    assert_problem(client.post(chat, headers=bob.auth, json={"text": "what a SCAM"}), 422, "invalid-input")
    assert client.post(chat, headers=bob.auth, json={"text": "scampi are tasty"}).status_code == 201  # whole words

    assert client.post(moderation, headers=ann.auth, json={"action": "mute", "viewer": "v0"}).status_code == 403
    muted = client.post(moderation, headers=merchant.auth, json={"action": "mute", "viewer": hello.json()["viewer"]})
    assert muted.status_code == 200
    unheard = client.post(chat, headers=ann.auth, json={"text": "buy my stuff elsewhere"})
    assert unheard.status_code == 201 and unheard.json()["delivered"] is False
    said = [payload["text"] for kind, payload in events(ctx, show["id"]) if kind == EventType.chat]
    assert "buy my stuff elsewhere" not in said and said[:2] == ["Hello from Milan", "Welcome!"]
    host_line = next(p for k, p in events(ctx, show["id"]) if k == EventType.chat and p["text"] == "Welcome!")
    assert host_line["host"] is True  # the host's badge

    eves = client.post(chat, headers=eve.auth, json={"text": "spam spam spam"})
    banned = client.post(
        moderation, headers=merchant.auth, json={"action": "ban", "message_id": eves.json()["message_id"]}
    )
    assert banned.status_code == 200
    assert_problem(client.post(chat, headers=eve.auth, json={"text": "let me back"}), 403, "forbidden")
    # The ban took the banned viewer's lines back from every viewer, and from the history a reconnection is sent.
    assert (EventType.chat_deleted, {"message_id": eves.json()["message_id"]}) in events(ctx, show["id"])
    assert "spam spam spam" not in [p.get("text") for k, p in events(ctx, show["id"]) if k == EventType.chat]
    taken_back = client.post(chat, headers=bob.auth, json={"text": "a line to take back"}).json()["message_id"]
    body = {"action": "delete", "message_id": taken_back}
    assert client.post(moderation, headers=merchant.auth, json=body).status_code == 200
    assert (EventType.chat_deleted, {"message_id": taken_back}) in events(ctx, show["id"])
    assert "a line to take back" not in [p.get("text") for k, p in events(ctx, show["id"]) if k == EventType.chat]
    with ctx.db.session() as session:  # a viewer who opens the stream now sees neither the muted nor the banned
        opening = [e.payload.get("text") for e in controls.opening_events(session, show["id"])]
    assert opening == ["Hello from Milan", "Welcome!", "scampi are tasty"]
    assert_problem(
        client.post(moderation, headers=merchant.auth, json={"action": "mute", "message_id": 999999}), 404, "not-found"
    )
    assert_problem(client.post(moderation, headers=merchant.auth, json={"action": "delete"}), 422, "invalid-input")


def test_a_viewer_cannot_flood_the_chat(client, ctx, make_account):
    merchant, viewer = make_account(Role.merchant), make_account(Role.viewer)
    show = on_air(client, ctx, merchant, [])
    answers = [
        client.post(f"/api/v1/live/{show['id']}/chat", headers=viewer.auth, json={"text": f"line {i}"}).status_code
        for i in range(21)
    ]
    assert answers[:20] == [201] * 20 and answers[20] == 429
    assert (
        client.post(f"/api/v1/live/{show['id']}/reactions", headers=viewer.auth, json={"kind": "heart"}).status_code
        == 202
    )
    assert (
        client.post(f"/api/v1/live/{show['id']}/reactions", headers=viewer.auth, json={"kind": "<b>"}).status_code
        == 422
    )


def test_an_unpin_takes_the_hosts_preview_time_and_a_later_pin_never_starts_before_it(client, ctx, make_account):
    merchant = make_account(Role.merchant)
    green, black = product(client, merchant)["id"], product(client, merchant)["id"]
    show = on_air(client, ctx, merchant, [green, black])
    url = f"/api/v1/live/{show['id']}/pins"
    four_s_ago = clock.now() - timedelta(seconds=4)
    first = client.post(url, headers=merchant.auth, json={"product_id": green, "stream_time": four_s_ago.isoformat()})
    two_s_ago = clock.now() - timedelta(seconds=2)
    off = client.delete(
        f"{url}/{first.json()['pin_id']}", params={"stream_time": two_s_ago.isoformat()}, headers=merchant.auth
    )
    assert off.status_code == 204
    unpinned_at = datetime.fromisoformat(client.get(url).json()[0]["unpinned_at"])
    assert abs(unpinned_at - two_s_ago) < timedelta(milliseconds=1)  # the preview's moment, not the click's
    # A pin stamped before that unpin (a preview further behind) starts where the unpin was.
    again = client.post(url, headers=merchant.auth, json={"product_id": black, "stream_time": four_s_ago.isoformat()})
    assert datetime.fromisoformat(again.json()["pinned_at"]) == unpinned_at
    bad = client.delete(f"{url}/{again.json()['pin_id']}", params={"stream_time": "yesterday"}, headers=merchant.auth)
    assert bad.status_code == 422 and client.get(url).json()[1]["unpinned_at"] is None  # refused, nothing changed
