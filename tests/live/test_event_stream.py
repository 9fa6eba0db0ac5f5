"""A show's event stream over real HTTP (Server-Sent Events): every viewer gets each pin and chat line with its
stream time, a muted viewer's lines reach nobody, a viewer who reconnects gets what it missed, and with Redis a
viewer of one web process gets what was done on another."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta

import httpx
import pytest

from tests.commerce.helpers import product
from tests.helpers import REDIS_URL, served, wait_for
from tests.live.helpers import go_live
from vetrina.accounts.models import Role
from vetrina.live.hub import STREAMS_PER_ADDRESS
from vetrina.runtime import build_context


@contextmanager
def event_stream(url: str, show_id: int, last_event_id: int | None = None) -> Iterator[Iterator[dict]]:
    """The show's events as they come: each {"id", "event", "data"} (keep-alives skipped)."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    with httpx.stream("GET", f"{url}/api/v1/live/{show_id}/events", headers=headers, timeout=20) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")

        def frames() -> Iterator[dict]:
            frame: dict = {}
            for line in answer.iter_lines():
                if not line:
                    if "event" in frame:
                        yield frame
                    frame = {}
                    continue
                field, _, value = line.partition(": ")
                if field in ("id", "event"):
                    frame[field] = value
                elif field == "data":
                    frame["data"] = json.loads(value)

        yield frames()


def next_of(frames: Iterator[dict], kind: str) -> dict:
    return next(frame for frame in frames if frame["event"] == kind)


def start_show(http: httpx.Client, ctx, host, product_ids: list[int]) -> dict:
    show = http.post("/api/v1/live", headers=host.auth, json={"title": "Live", "product_ids": product_ids}).json()
    go_live(http, ctx.settings, show["stream_key"])
    return show


def test_every_viewer_gets_pins_and_chat_with_their_stream_time(live_server, make_account):
    merchant, ann, muted = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.viewer)
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        tea = product(http, merchant)["id"]
        show = start_show(http, live_server.ctx, merchant, [tea])
        with event_stream(live_server.url, show["id"]) as first, event_stream(live_server.url, show["id"]) as second:
            pinned = http.post(f"/api/v1/live/{show['id']}/pins", headers=merchant.auth, json={"product_id": tea})
            assert pinned.status_code == 201
            for frames in (first, second):
                pin = next_of(frames, "pin")
                assert pin["data"]["type"] == "pin" and pin["data"]["payload"]["product"]["id"] == tea
                sent_at = datetime.fromisoformat(pin["data"]["stream_time"])  # to the millisecond, as HLS writes it
                assert abs(sent_at - datetime.fromisoformat(pinned.json()["pinned_at"])) < timedelta(milliseconds=1)
                assert int(pin["id"]) == pin["data"]["id"]
            line = http.post(f"/api/v1/live/{show['id']}/chat", headers=muted.auth, json={"text": "psst"}).json()
            mute = {"action": "mute", "viewer": line["viewer"]}
            assert http.post(f"/api/v1/live/{show['id']}/moderation", headers=merchant.auth, json=mute).is_success
            http.post(f"/api/v1/live/{show['id']}/chat", headers=muted.auth, json={"text": "nobody hears this"})
            http.post(f"/api/v1/live/{show['id']}/chat", headers=ann.auth, json={"text": "lovely tea"})
            for frames in (first, second):
                said = [next_of(frames, "chat")["data"]["payload"]["text"] for _ in range(2)]
                assert said == ["psst", "lovely tea"]  # the muted line reached nobody
        pin_id = int(pin["id"])
        with event_stream(live_server.url, show["id"], last_event_id=pin_id) as again:  # a reconnecting viewer
            missed = [next(again)["data"]["payload"].get("text") for _ in range(2)]
        assert missed == ["psst", "lovely tea"]
        with event_stream(live_server.url, show["id"]) as newcomer:  # opening: the pinned product, then the chat
            assert next(newcomer)["event"] == "pin"
        assert http.get(f"/api/v1/live/{show['id'] + 1000}/events").status_code == 404


@pytest.fixture
def two_web_processes(settings) -> Iterator[tuple]:
    """Two apps over one database and one Redis, as two web nodes are."""
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "queue_name": f"live-{secrets.token_hex(4)}"})
    first, second = build_context(shared), build_context(shared)
    try:
        with served(first) as first_url, served(second) as second_url:
            yield (first, first_url), (second, second_url)
    finally:
        first.close()
        second.close()


def test_with_redis_a_viewer_of_one_web_process_gets_what_another_did(two_web_processes, make_account):
    (first, first_url), (_, second_url) = two_web_processes
    merchant = make_account(Role.merchant)
    with httpx.Client(base_url=first_url, timeout=10) as http:
        tea = product(http, merchant)["id"]
        show = start_show(http, first, merchant, [tea])
        with event_stream(second_url, show["id"]) as there, event_stream(first_url, show["id"]) as here:
            assert http.post(
                f"/api/v1/live/{show['id']}/pins", headers=merchant.auth, json={"product_id": tea}
            ).is_success
            assert next_of(there, "pin")["data"]["payload"]["product"]["id"] == tea
            assert next_of(here, "pin")["data"]["payload"]["product"]["id"] == tea
            for frames in (there, here):  # one viewer on each process, counted together (by the second count)
                counts = [next_of(frames, "viewers")["data"]["payload"]["count"] for _ in range(2)]
                assert counts[-1] == 2, counts


def test_one_address_holds_at_most_twenty_event_streams(live_server, make_account):
    merchant = make_account(Role.merchant)
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        show = start_show(http, live_server.ctx, merchant, [])
        said = http.post(f"/api/v1/live/{show['id']}/chat", headers=merchant.auth, json={"text": "hello"})
        assert said.status_code == 201  # so every stream that is let in starts with this line

    def first_event() -> str:
        with event_stream(live_server.url, show["id"]) as stream:
            return next(stream)["event"]

    with ExitStack() as streams:
        held = [streams.enter_context(event_stream(live_server.url, show["id"])) for _ in range(STREAMS_PER_ADDRESS)]
        assert [next(frames)["event"] for frames in held] == ["chat"] * STREAMS_PER_ADDRESS  # (kept: read on, open)
        assert first_event() == "refused"
    # The twenty closed: their places are free again (once the server has seen them go).
    wait_for(lambda: first_event() == "chat", timeout_s=10, message="a place freed")


def test_a_pin_replacing_another_follows_its_unpin_and_ending_the_show_ends_every_stream(live_server, make_account):
    merchant = make_account(Role.merchant)
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        tea, pot = product(http, merchant)["id"], product(http, merchant)["id"]
        show = start_show(http, live_server.ctx, merchant, [tea, pot])
        url = f"{live_server.url}/api/v1/live/{show['id']}/events"
        with httpx.stream("GET", url, timeout=20) as answer:
            chunks = answer.iter_raw()
            assert next(chunks).startswith(b"retry:")
            for product_id in (tea, pot):
                http.post(f"/api/v1/live/{show['id']}/pins", headers=merchant.auth, json={"product_id": product_id})
            received = b""
            while b"event: pin" not in received or received.count(b"event: pin") < 2:
                received += next(chunks)
            # The replaced pin's unpin comes first, then the new pin (sent together, as one write).
            assert received.index(b"event: unpin") < received.rindex(b"event: pin")
            assert http.post(f"/api/v1/live/{show['id']}/end", headers=merchant.auth).status_code == 200
            rest = b"".join(chunks)  # the server ends the stream within a viewer-count tick (5 s)
        assert b"event: ended" in rest
