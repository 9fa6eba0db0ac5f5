"""Rollups by second match a recomputation from the raw events, whatever their order and duplicates; the
selling-seconds API, CSV and page show the same numbers."""

from __future__ import annotations

import csv
import io
import math
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.rights.helpers import title
from tests.web.helpers import sign_in
from vetrina.accounts.models import Role
from vetrina.analytics import intake, rollups
from vetrina.analytics.models import DailyStats, DailyViewer, RollupState

TYPES = ["play", "progress", "quartile", "card_shown", "card_clicked", "hold", "buy_started", "purchase", "pause"]
COUNTED = {"card_shown": "shown", "card_clicked": "clicked", "buy_started": "buys", "purchase": "purchases"}
DURATION = 60.0  # as long as `title` makes them

# Seconds as the intake keeps them (to the millisecond), so that 0.99999 is the 1.0 that is stored.
event = st.tuples(
    st.integers(0, 5), st.sampled_from(TYPES), st.floats(0, DURATION + 5, allow_nan=False).map(lambda s: round(s, 3))
)


def expected(events: list[tuple[int, str, float]]) -> dict[int, dict[str, int]]:
    """Straight from the definition: a viewer watches every second from their first to their furthest."""
    last = math.ceil(DURATION) - 1
    at = {(v, k, s): min(int(s), last) for v, k, s in events}
    out: dict[int, dict[str, int]] = {}
    for second in range(last + 1):
        watching = sum(
            1
            for viewer in {v for v, _, _ in events}
            if min(at[e] for e in events if e[0] == viewer) <= second <= max(at[e] for e in events if e[0] == viewer)
        )
        counts = Counter(COUNTED[k] for v, k, s in events if k in COUNTED and at[(v, k, s)] == second)
        row = {"viewers": watching, **{name: counts.get(name, 0) for name in COUNTED.values()}}
        if any(row.values()):
            out[second] = row
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(event, max_size=60),
    repeats=st.lists(st.integers(0, 59), max_size=20),
    seed=st.integers(),
    chunk=st.integers(1, 25),
    every=st.integers(1, 10),
)
def test_the_rollup_matches_a_recomputation_from_the_raw_events(ctx, make_account, events, repeats, seed, chunk, every):
    """Events arrive in batches, out of order and some twice; rollups run between batches, folding what is new
    in chunks of any size; at every point, report and rollup agree with the definition over what arrived."""
    owner = make_account(Role.merchant)
    film = title(ctx, owner, "Rolled")
    numbered = [(i, *e) for i, e in enumerate(events)]
    sent = numbered + [numbered[r] for r in repeats if r < len(numbered)]  # the player re-sends some
    random.Random(seed).shuffle(sent)  # and they arrive out of order
    arrived: dict[int, tuple[int, str, float]] = {}
    for n, start in enumerate(range(0, len(sent), 7)):
        for viewer in {e[1] for e in sent[start : start + 7]}:
            batch = [
                intake.EventIn(
                    client_event_id=f"e{i}", type=kind, video_id=film, second=second, occurred_at=datetime.now(UTC)
                )
                for i, v, kind, second in sent[start : start + 7]
                if v == viewer
            ]
            with ctx.db.session(write=True) as session:
                intake.record_events(session, f"viewer-{film}-{viewer}", batch, "IT")  # ids are per viewer
        arrived.update({i: (v, kind, second) for i, v, kind, second in sent[start : start + 7]})
        with ctx.db.session() as session:  # the report folds in what the rollup has not yet
            assert _as_rows(rollups.seconds(session, film, DURATION)) == expected(list(arrived.values()))
        if n % every == 0:
            rollups.roll_up_new(ctx.db, chunk=chunk)
    rollups.roll_up_new(ctx.db, chunk=chunk)
    assert rollups.roll_up_new(ctx.db) == 0  # nothing new: nothing changes
    with ctx.db.session() as session:
        assert _as_rows(rollups.seconds(session, film, DURATION)) == expected(list(arrived.values()))
        daily = {
            (r.type, r.territory): r.events
            for r in session.scalars(select(DailyStats).where(DailyStats.video_id == film))
        }
        reached = {
            r.viewer_key: r.furthest_s for r in session.scalars(select(DailyViewer).where(DailyViewer.video_id == film))
        }
    assert daily == {(kind, "IT"): count for kind, count in Counter(kind for _, _, kind, _ in numbered).items()}
    assert reached == {
        f"viewer-{film}-{v}": max(round(s, 3) for _, w, _, s in numbered if w == v)
        for v in {v for _, v, _, _ in numbered}
    }


def _as_rows(rolled: rollups.Seconds) -> dict[int, dict[str, int]]:
    names = ("viewers", *COUNTED.values())
    rows = {second: {name: getattr(rolled, name)[second] for name in names} for second in range(len(rolled.viewers))}
    return {second: row for second, row in rows.items() if any(row.values())}


def test_two_rollups_at_once_count_each_event_once(ctx, make_account):
    """Rollups racing over the same events (the job in two workers, say): the cursor's compare-and-set lets one
    chunk through, whichever wins."""
    owner = make_account(Role.merchant)
    film = title(ctx, owner, "Raced")
    for viewer in range(8):
        batch = [intake.EventIn(client_event_id=f"r{i}", type="card_shown", video_id=film, second=i) for i in range(20)]
        with ctx.db.session(write=True) as session:
            intake.record_events(session, f"viewer-race-{viewer}", batch, "IT")
    with ThreadPoolExecutor(4) as pool:
        folded = list(pool.map(lambda _: rollups.roll_up_new(ctx.db, chunk=7), range(4)))
    assert sum(folded) == 160
    with ctx.db.session() as session:
        rolled = rollups.seconds(session, film, DURATION)
    assert rolled.shown[:20] == [8] * 20 and rolled.viewers[:20] == [8] * 20


def test_the_owner_sees_the_selling_seconds_as_json_csv_and_a_page(client, ctx, make_account):
    owner = make_account(Role.merchant)
    film = title(ctx, owner, "Lookbook")
    empty = client.get(f"/api/v1/videos/{film}/selling-seconds", headers=owner.auth).json()
    assert empty["seconds"]["viewers"] == [0] * 60 and empty["tags"] == []
    assert sign_in(client, owner.user.email).status_code == 303
    assert 'data-testid="no-data"' in client.get(f"/videos/{film}/analytics").text
    client.cookies.clear()

    plays = [
        {"id": f"a{i}", "type": t, "video_id": film, "second": s}
        for i, (t, s) in enumerate([("play", 0), ("progress", 10), ("card_clicked", 7.5), ("purchase", 8.2)])
    ]
    assert client.post("/api/v1/events", json={"viewer": "viewer-one", "events": plays}).json()["accepted"] == 4
    plays = [
        {"id": "b0", "type": "play", "video_id": film, "second": 5},
        {"id": "b1", "type": "progress", "video_id": film, "second": 20},
        {"id": "b2", "type": "card_clicked", "video_id": film, "second": 7.9},
    ]
    assert client.post("/api/v1/events", json={"viewer": "viewer-two", "events": plays}).json()["accepted"] == 3
    report = client.get(f"/api/v1/videos/{film}/selling-seconds", headers=owner.auth).json()
    seconds = report["seconds"]
    assert seconds["viewers"][:12] == [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1] and seconds["viewers"][21] == 0
    assert (seconds["clicked"][7], seconds["purchases"][8]) == (2, 1)

    exported = client.get(f"/api/v1/videos/{film}/selling-seconds?format=csv", headers=owner.auth)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 60 and [int(r["viewers"]) for r in rows] == seconds["viewers"]
    assert int(rows[7]["clicked"]) == 2 and int(rows[8]["purchases"]) == 1

    rival = make_account(Role.merchant)
    assert client.get(f"/api/v1/videos/{film}/selling-seconds", headers=rival.auth).status_code == 403
    assert client.get(f"/api/v1/videos/{film}/selling-seconds").status_code == 401
    assert sign_in(client, owner.user.email).status_code == 303
    page = client.get(f"/videos/{film}/analytics").text
    assert 'data-testid="selling-chart"' in page and 'data-testid="best-second">0:08<' in page
    assert f'href="/watch/{film}?t=8"' in page


def test_the_minute_job_folds_only_what_is_new(client, ctx, make_account):
    ctx.queue.stop_in_process()  # else the in-process worker's own run, at a minute's turn, may fold them first
    owner = make_account(Role.merchant)
    quiet, busy = title(ctx, owner, "Quiet"), title(ctx, owner, "Busy")

    def send(event_id: str, second: float) -> None:
        body = {
            "viewer": "viewer-job",
            "events": [{"id": event_id, "type": "progress", "video_id": busy, "second": second}],
        }
        assert client.post("/api/v1/events", json=body).json()["accepted"] == 1

    send("j1", 3)
    assert rollups.rollup_job(ctx) == 1
    assert rollups.rollup_job(ctx) == 0  # nothing new
    send("j2", 9)
    assert rollups.rollup_job(ctx) == 1
    with ctx.db.session() as session:
        assert rollups.seconds(session, busy, 60.0).viewers[2:11] == [0] + [1] * 7 + [0]
        assert not any(rollups.seconds(session, quiet, 60.0).viewers)
        state = session.get(RollupState, rollups.CURSOR)
    assert state is not None and state.rolled_up_at is not None
