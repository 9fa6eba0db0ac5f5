"""POST /api/v1/events: batches from the player are validated, stored once, and never need a sign-in."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import ready_video_row
from tests.rights.helpers import licence
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.analytics import intake
from vetrina.analytics.models import PlayerEvent
from vetrina.web.app import create_app


def test_batches_are_stored_once_and_bad_events_dropped(client, video, ctx):
    _owner, video_id = video
    batch = {
        "viewer": "viewer-0001",
        "events": [
            {"id": "e1", "type": "play", "video_id": video_id, "second": 0},
            {"id": "e2", "type": "card_shown", "video_id": video_id, "second": 5.25, "product_id": 3, "tag_id": 1},
            {"id": "e3", "type": "card_shown", "video_id": 424242, "second": 1},
        ],
    }
    first = client.post("/api/v1/events", json=batch)
    assert first.status_code == 202 and first.json() == {"accepted": 2, "duplicates": 0, "rejected": 1}
    again = client.post("/api/v1/events", json=batch)  # the player resent it
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": 1}
    with ctx.db.session() as session:
        stored = session.scalars(select(PlayerEvent).order_by(PlayerEvent.id)).all()
    assert [(e.type, e.second, e.product_id) for e in stored] == [("play", 0, None), ("card_shown", 5.25, 3)]


def test_malformed_batches_are_422(client, video):
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


def test_times_without_a_zone_are_taken_as_utc(client, video):
    _owner, video_id = video
    batch = {
        "viewer": "viewer-0002",
        "events": [{"id": "n1", "type": "play", "video_id": video_id, "second": 0, "at": "2026-11-27T10:00:00"}],
    }
    assert client.post("/api/v1/events", json=batch).status_code == 202


def test_times_are_kept_within_a_day_and_stamped_on_arrival_beyond(client, video, ctx):
    _owner, video_id = video
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    clock.set_clock(lambda: now)
    batch = {
        "viewer": "viewer-0003",
        "events": [
            {"id": "naive", "type": "play", "video_id": video_id, "second": 0, "at": "2026-11-27T10:00:00"},
            {"id": "zoned", "type": "progress", "video_id": video_id, "second": 5, "at": "2026-11-27T13:30:00+02:00"},
            {"id": "drifted", "type": "progress", "video_id": video_id, "second": 10, "at": "2026-11-25T11:00:00Z"},
            {"id": "ahead", "type": "progress", "video_id": video_id, "second": 15, "at": "2026-11-28T12:30:00Z"},
            {"id": "unsaid", "type": "pause", "video_id": video_id, "second": 20},
        ],
    }
    assert client.post("/api/v1/events", json=batch).json() == {"accepted": 5, "duplicates": 0, "rejected": 0}
    with ctx.db.session() as session:
        stored = {e.client_event_id: e for e in session.scalars(select(PlayerEvent))}
    assert {key: e.occurred_at for key, e in stored.items()} == {
        "naive": datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        "zoned": datetime(2026, 11, 27, 11, 30, tzinfo=UTC),
        "drifted": now,
        "ahead": now,
        "unsaid": now,
    }
    assert {e.received_at for e in stored.values()} == {now}


def test_the_viewers_territory_is_stored_with_each_event(ctx, video):
    _owner, video_id = video
    batch = {"viewer": "viewer-0004", "events": [{"id": "t1", "type": "play", "video_id": video_id, "second": 0}]}
    # From a trusted proxy (loopback), the CDN's country header is believed; from anyone else it is not.
    with TestClient(create_app(ctx), client=("127.0.0.1", 40000)) as proxied:
        assert proxied.post("/api/v1/events", json=batch, headers={"CF-IPCountry": "it"}).status_code == 202
    with TestClient(create_app(ctx), client=("203.0.113.9", 40000)) as direct:
        other = {**batch, "viewer": "viewer-0005"}
        assert direct.post("/api/v1/events", json=other, headers={"CF-IPCountry": "IT"}).status_code == 202
    with ctx.db.session() as session:
        stored = session.execute(select(PlayerEvent.viewer_key, PlayerEvent.territory)).all()
    assert sorted(stored) == [("viewer-0004", "IT"), ("viewer-0005", ctx.settings.default_territory)]


def test_concurrent_batches_are_each_answered_and_stored_once(client, video, ctx):
    """Batches arriving together share a transaction; each still gets its own counts, a batch repeated by a
    concurrent request is stored once, and a malformed batch among them changes nothing for the others."""
    _owner, video_id = video

    def send(sender: int) -> list[tuple[int, dict]]:
        answers = []
        for n in range(6):
            # Senders 2k and 2k+1 send the same batches (the same viewer and ids): one of each pair is a repeat.
            events = [{"id": f"{n}.{i}", "type": "progress", "video_id": video_id, "second": i} for i in range(10)]
            if n == 3 and sender % 3 == 0:  # senders 0, 3 and 6: one malformed batch each, refused whole
                events[0]["second"] = -1
            batch = {"viewer": f"viewer-{sender // 2:04d}", "events": events}
            response = client.post("/api/v1/events", json=batch)
            answers.append((response.status_code, response.json()))
        return answers

    with ThreadPoolExecutor(8) as pool:
        answers = [answer for per_sender in pool.map(send, range(8)) for answer in per_sender]
    assert {status for status, _ in answers} == {202, 422}
    counted = [body for status, body in answers if status == 202]
    assert {body["accepted"] + body["duplicates"] for body in counted} == {10}
    with ctx.db.session() as session:
        stored = session.execute(select(PlayerEvent.viewer_key, PlayerEvent.client_event_id)).all()
    # Four viewers, six batches of ten each, every one sent well by at least one of the pair.
    assert len(stored) == len(set(stored)) == sum(body["accepted"] for body in counted) == 4 * 6 * 10
    assert sum(body["duplicates"] for body in counted) == 4 * 6 * 10 - 3 * 10


def test_the_writer_commits_a_group_once_and_one_failure_spares_the_others(ctx, video, monkeypatch):
    _owner, video_id = video
    transactions = []
    opened = ctx.db.session
    monkeypatch.setattr(ctx.db, "session", lambda **kw: transactions.append(kw) or opened(**kw))

    def batch(n: int) -> list[intake.EventIn]:
        return [intake.EventIn(client_event_id=f"{n}.{i}", type="play", video_id=video_id, second=i) for i in range(5)]

    async def record_together(viewers: list[str]) -> list[intake.IntakeResult | BaseException]:
        writer = intake.EventWriter(ctx.db)
        jobs = [writer.record(viewer, batch(n), "IT") for n, viewer in enumerate(viewers)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(record_together([f"viewer-{n:04d}" for n in range(10)]))
    assert results == [intake.IntakeResult(accepted=5, duplicates=0, rejected=0)] * 10
    assert len(transactions) == 1  # the ten batches came together: one transaction

    real_record = intake.record_events

    def failing_for_one(session, viewer_key, *args):
        if viewer_key == "viewer-bad1":
            raise RuntimeError("the database refused this one")
        return real_record(session, viewer_key, *args)

    monkeypatch.setattr(intake, "record_events", failing_for_one)
    results = asyncio.run(record_together(["viewer-0100", "viewer-bad1", "viewer-0102"]))
    assert isinstance(results[1], RuntimeError)
    assert results[0] == results[2] == intake.IntakeResult(accepted=5, duplicates=0, rejected=0)
    with ctx.db.session() as session:
        viewers = set(session.scalars(select(PlayerEvent.viewer_key)))
    assert "viewer-0100" in viewers and "viewer-0102" in viewers and "viewer-bad1" not in viewers


def test_events_for_videos_the_viewer_may_not_watch_are_dropped_like_unknown_ones(client, ctx, make_account):
    """No id oracle: an unpublished, a processing, an unlicensed-here and a missing video are answered alike."""
    owner = make_account(Role.merchant)
    with ctx.db.session() as session:
        rows = {
            "public": ready_video_row(owner.user.id),
            "private": ready_video_row(owner.user.id, published=False),
            "processing": ready_video_row(owner.user.id, status="processing"),
            "elsewhere": ready_video_row(owner.user.id),
        }
        session.add_all(rows.values())
        session.flush()
        ids = {name: row.id for name, row in rows.items()}
    licensed = licence(client, owner, ids["elsewhere"], ["CN"])
    assert licensed.status_code == 201, licensed.text

    def answer(video_id: int) -> dict:
        batch = {
            "viewer": "viewer-0002",
            "events": [{"id": f"p{video_id}", "type": "play", "video_id": video_id, "second": 1}],
        }
        return client.post("/api/v1/events", json=batch, headers={"CF-IPCountry": "IT"}).json()

    assert answer(ids["public"]) == {"accepted": 1, "duplicates": 0, "rejected": 0}
    refused = {"accepted": 0, "duplicates": 0, "rejected": 1}
    assert [answer(ids[name]) for name in ("private", "processing", "elsewhere")] == [refused] * 3
    assert answer(ids["public"] + 1000) == refused
    with ctx.db.session() as session:
        assert session.scalars(select(PlayerEvent.video_id)).all() == [ids["public"]]
