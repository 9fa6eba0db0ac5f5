"""POST /api/v1/events: batches from the player are validated, stored once, and never need a sign-in."""

from __future__ import annotations

from sqlalchemy import select

from tests.shoppable.test_tags_and_timeline import video  # noqa: F401 (fixture)
from vetrina.analytics.models import PlayerEvent


def test_batches_are_stored_once_and_bad_events_dropped(client, video, runtime):  # noqa: F811
    _owner, video_id = video
    batch = {"viewer": "viewer-0001", "events": [
        {"id": "e1", "type": "play", "video_id": video_id, "second": 0},
        {"id": "e2", "type": "card_shown", "video_id": video_id, "second": 5.25, "product_id": 3, "tag_id": 1},
        {"id": "e3", "type": "card_shown", "video_id": 424242, "second": 1},
    ]}  # fmt: skip
    first = client.post("/api/v1/events", json=batch)
    assert first.status_code == 202 and first.json() == {"accepted": 2, "duplicates": 0, "rejected": 1}
    again = client.post("/api/v1/events", json=batch)  # the player resent it
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": 1}
    with runtime.db.session() as session:
        stored = session.scalars(select(PlayerEvent).order_by(PlayerEvent.id)).all()
    assert [(e.type, e.second, e.product_id) for e in stored] == [("play", 0, None), ("card_shown", 5.25, 3)]


def test_malformed_batches_are_422(client, video):  # noqa: F811
    _owner, video_id = video
    good = {"id": "x", "type": "play", "video_id": video_id, "second": 1}
    for batch in [
        {"viewer": "short", "events": [good]},
        {"viewer": "viewer-0001", "events": []},
        {"viewer": "viewer-0001", "events": [{**good, "second": -1}]},
        {"viewer": "viewer-0001", "events": [{**good, "id": "has space"}]},
        {"viewer": "viewer-0001", "events": [good] * 201},
        {"viewer": "viewer-0001", "events": [{**good, "extra": 1}]},
    ]:
        assert client.post("/api/v1/events", json=batch).status_code == 422


def test_times_without_a_zone_are_taken_as_utc(client, video):  # noqa: F811
    _owner, video_id = video
    batch = {"viewer": "viewer-0002", "events": [
        {"id": "n1", "type": "play", "video_id": video_id, "second": 0, "at": "2026-11-27T10:00:00"}]}  # fmt: skip
    assert client.post("/api/v1/events", json=batch).status_code == 202
