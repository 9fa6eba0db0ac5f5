"""Imports through the API and the job worker, over real HTTP from the partner's server: idempotent re-runs,
changes, broken items, malformed feeds; a worker dying mid-run and another taking over; large feeds in
bounded memory; and the schedule."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.partners.helpers import (
    CDN,
    catalogue,
    catalogue_of,
    create_feed,
    feed_items,
    item,
    mrss,
    run_feed,
    title_item,
)
from vetrina import clock, leases
from vetrina.accounts.models import Role
from vetrina.media.models import Video
from vetrina.partners import runs, schedule
from vetrina.partners import service as partners
from vetrina.partners.models import FeedFailure, FeedItem, FeedRun, PartnerFeed


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fetch_allow_private": True})


def count_rows(ctx, model) -> int:
    with ctx.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def counts(report: dict) -> dict:
    return {k: report[k] for k in ("status", "total", "done", "created", "updated", "unchanged", "failed", "removed")}


def test_importing_the_same_feed_twice_changes_nothing_the_second_time(client, make_account, ctx, partner_site):
    partner = make_account(Role.partner)
    feed = create_feed(client, partner, partner_site.put("/catalogue.xml", catalogue(30)))
    assert create_feed(client, partner, feed["url"])["id"] == feed["id"]  # the same URL is the same feed

    first = run_feed(client, partner, feed["id"])
    assert counts(first) == {
        "status": "done",
        "total": 30,
        "done": 30,
        "created": 30,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "removed": 0,
    }
    assert first["progress"] == 1.0 and first["error"] is None and first["failures"] == []
    before = feed_items(client, partner, feed["id"])
    assert sorted(before) == sorted(f"t-{n}" for n in range(1, 31))
    assert before["t-7"]["title"] == "Title 7" and before["t-7"]["media_status"] == "pending"

    second = run_feed(client, partner, feed["id"])
    assert counts(second) == {
        "status": "done",
        "total": 30,
        "done": 30,
        "created": 0,
        "updated": 0,
        "unchanged": 30,
        "failed": 0,
        "removed": 0,
    }
    assert feed_items(client, partner, feed["id"]) == before  # not even touched
    assert count_rows(ctx, FeedItem) == 30 and count_rows(ctx, Video) == 0
    runs = client.get(f"/api/v1/partners/feeds/{feed['id']}/runs", headers=partner.auth).json()
    assert [r["run_id"] for r in runs] == [second["run_id"], first["run_id"]]


def test_a_changed_feed_updates_removes_and_creates(client, make_account, ctx, partner_site):
    partner = make_account(Role.partner)
    feed = create_feed(client, partner, partner_site.put("/catalogue.xml", catalogue(5)))
    run_feed(client, partner, feed["id"])

    partner_site.put("/catalogue.xml", catalogue_of([1, 2, 3, 5, 6], titles={2: "Title two, recut"}))
    report = run_feed(client, partner, feed["id"])
    assert counts(report) == {
        "status": "done",
        "total": 5,
        "done": 5,
        "created": 1,
        "updated": 1,
        "unchanged": 3,
        "failed": 0,
        "removed": 1,
    }
    items = feed_items(client, partner, feed["id"])
    assert sorted(items) == ["t-1", "t-2", "t-3", "t-4", "t-5", "t-6"]
    assert items["t-2"]["title"] == "Title two, recut" and not items["t-2"]["removed"]
    assert [g for g, i in items.items() if i["removed"]] == ["t-4"]

    partner_site.put("/catalogue.xml", catalogue(6))
    back = run_feed(client, partner, feed["id"])
    assert counts(back) == {
        "status": "done",
        "total": 6,
        "done": 6,
        "created": 0,
        "updated": 2,
        "unchanged": 4,
        "failed": 0,
        "removed": 0,
    }
    items = feed_items(client, partner, feed["id"])
    assert not any(i["removed"] for i in items.values()) and items["t-2"]["title"] == "Title 2"
    assert count_rows(ctx, FeedItem) == 6


def test_broken_items_are_reported_and_the_rest_imported(client, make_account, ctx, partner_site):
    partner = make_account(Role.partner)
    cdn, nowhere = CDN, '<media:restriction relationship="allow" type="country">QQ</media:restriction>'
    body = mrss(
        item("a", "Alpha", f"{cdn}/a.mp4"),
        item("b", None, f"{cdn}/b.mp4"),
        item("c", "Gamma", f"{cdn}/c.mp4"),
        item("a", "Alpha again", f"{cdn}/a2.mp4"),
        item("d", "Delta", "ftp://cdn.partner.example/d.mp4"),
        item("e", "Epsilon", f"{cdn}/" + "e" * 2000 + ".mp4"),
        item("f", "Phi", f"{cdn}/f.mp4", nowhere),
        item("g", "Gamma two", f"{cdn}/g.mp4"),
        item("h", "Local file", "file:///etc/passwd"),
    )
    feed = create_feed(client, partner, partner_site.put("/feed", body, "application/xml"))
    report = run_feed(client, partner, feed["id"])
    assert counts(report) == {
        "status": "done",
        "total": 9,
        "done": 9,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "failed": 6,
        "removed": 0,
    }
    assert report["failures"] == [
        {"position": 2, "guid": "b", "reason": "no title (media:title or title)"},
        {"position": 4, "guid": "a", "reason": "the guid appears twice in the feed"},
        {"position": 5, "guid": "d", "reason": "media URLs are http:// or https://"},
        {"position": 6, "guid": "e", "reason": "the media URL is longer than 2000 characters"},
        {"position": 7, "guid": "f", "reason": "media:restriction names unknown countries: QQ"},
        {"position": 9, "guid": "h", "reason": "media URLs are http:// or https://"},
    ]
    items = feed_items(client, partner, feed["id"])
    assert sorted(items) == ["a", "c", "g"] and items["a"]["title"] == "Alpha"  # the first of a doubled guid


def test_a_listed_title_that_is_broken_now_is_kept_as_it_was_not_removed(client, make_account, partner_site):
    partner = make_account(Role.partner)
    feed = create_feed(client, partner, partner_site.put("/catalogue.xml", catalogue(3)))
    run_feed(client, partner, feed["id"])
    before = feed_items(client, partner, feed["id"])
    partner_site.put(
        "/catalogue.xml",
        catalogue(3)
        .replace(b"<title>Title 2</title>", b"")
        .replace(b't-3.mp4" type="video/mp4"', b't-3.m3u8" type="application/x-mpegURL"'),
    )
    report = run_feed(client, partner, feed["id"])
    assert (report["unchanged"], report["failed"], report["removed"]) == (1, 2, 0)
    assert [(f["guid"], f["reason"]) for f in report["failures"]] == [
        ("t-2", "no title (media:title or title)"),
        ("t-3", "no playable media:content (a video file with a url)"),
    ]
    assert feed_items(client, partner, feed["id"]) == before


def test_a_csv_feed_imports_like_mrss(client, make_account, partner_site):
    partner = make_account(Role.partner)
    rows = "guid,title,media_url,description\nx-1,One,https://cdn.partner.example/1.mp4,First\nx-2,,,\n"
    feed = create_feed(client, partner, partner_site.put("/feed.csv", rows.encode(), "text/csv"), format="csv")
    report = run_feed(client, partner, feed["id"])
    assert (report["status"], report["created"], report["failed"]) == ("done", 1, 1)
    assert report["failures"] == [{"position": 2, "guid": "x-2", "reason": "no title or no media_url"}]


MALFORMED = [
    # Every item complete, the document not: a reader that imported as it went would have created t-13.
    (
        catalogue(12).replace(b"</channel></rss>", title_item(13).encode()),
        "application/rss+xml",
        "The feed is not well-formed XML (line 2): ",
    ),
    (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<rss><channel><item><title>&b;</title></item></channel></rss>",
        "application/xml",
        "Feeds with a DTD are not read (entities could expand without bound).",
    ),
    (b"<html><body>Moved</body></html>", "text/xml", "The document is <html>, not an RSS feed."),
    (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>t-1</id></entry></feed>',
        "application/atom+xml",
        "The document is <feed>, not an RSS feed.",
    ),
    (b"<rss/>", "text/html", "The feed could not be fetched: The content type is text/html, not application/rss+xml"),
    (None, None, "The feed could not be fetched: The server answered 404."),
]


def test_a_malformed_feed_fails_the_run_and_changes_nothing(client, make_account, ctx, partner_site):
    partner = make_account(Role.partner)
    feed = create_feed(client, partner, partner_site.put("/catalogue.xml", catalogue(12)))
    assert run_feed(client, partner, feed["id"])["created"] == 12
    before = feed_items(client, partner, feed["id"])
    for body, content_type, error in MALFORMED:
        if body is None:
            del partner_site.files["/catalogue.xml"]
        else:
            partner_site.put("/catalogue.xml", body, content_type)
        failed = run_feed(client, partner, feed["id"])
        assert failed["status"] == "failed" and failed["error"].startswith(error), failed
        assert (failed["done"], failed["created"], failed["updated"], failed["removed"], failed["failures"]) == (
            0,
            0,
            0,
            0,
            [],
        )
        assert feed_items(client, partner, feed["id"]) == before
    assert count_rows(ctx, FeedFailure) == 0 and count_rows(ctx, FeedItem) == 12


# Crash and resume --------------------------------------------------------------------------------


class WorkerKilled(BaseException):
    """Like the worker process dying: not an error the import could catch and record."""


def make_feed(ctx, partner, url: str, rerun_hours: float | None = None) -> int:
    with ctx.db.session(write=True) as session:
        feed = partners.create_feed(
            session, partner.user, name="Catalogue", source=url, rerun_hours=rerun_hours, allow_private=True
        )
        return feed.id


def start(ctx, feed_id: int) -> int:
    with ctx.db.session(write=True) as session:
        return runs.start_run(
            ctx, session, session.get(PartnerFeed, feed_id), "api", fetch_media=False, for_worker=False
        ).id


def outcome(ctx, run_id: int) -> tuple[dict, list, list]:
    """A run's counters, its failures and the feed's items: everything a clean run and a resumed one must share."""
    with ctx.db.session() as session:
        run = session.get(FeedRun, run_id)
        numbers = {
            k: getattr(run, k)
            for k in (
                "status",
                "total",
                "cursor",
                "created",
                "updated",
                "unchanged",
                "failed",
                "removed",
                "progress",
                "error",
            )
        }
        failures = [(f.position, f.guid, f.reason) for f in runs.failures(session, run)]
        rows = [
            (i.guid, i.fingerprint, i.title, i.media_url, i.removed, i.media_status, i.last_run_id == run_id)
            for i in session.scalars(select(FeedItem).where(FeedItem.feed_id == run.feed_id).order_by(FeedItem.guid))
        ]
    return numbers, failures, rows


def test_a_run_whose_worker_died_is_taken_over_and_resumes_after_its_last_batch(ctx, make_account, partner_site):
    assert runs.BATCH == 250
    partner = make_account(Role.partner)
    body = catalogue(800).replace(b"<title>Title 100</title>", b"").replace(b"<title>Title 700</title>", b"")
    body = body.replace(
        b"</channel>", item("t-5", "Doubled", "https://cdn.partner.example/x.mp4").encode() + b"</channel>"
    )
    clean_run = start(ctx, make_feed(ctx, partner, partner_site.put("/clean.xml", body)))
    crash_run = start(ctx, make_feed(ctx, partner, partner_site.put("/crash.xml", body)))
    assert runs.run_import(ctx, clean_run).status == "done"

    seen: list[int] = []

    def die_after_two_batches(run: FeedRun) -> None:
        seen.append(run.cursor)
        if len(seen) == 2:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        runs.run_import(ctx, crash_run, on_progress=die_after_two_batches)
    numbers, failures, rows = outcome(ctx, crash_run)
    assert (numbers["status"], numbers["cursor"], numbers["created"], numbers["failed"]) == ("running", 500, 499, 1)
    assert len(rows) == 499 and failures == [(100, "t-100", "no title (media:title or title)")]

    # While its lease is fresh, the run is nobody else's: neither taken nor queued again.
    assert runs.run_import(ctx, crash_run) is None
    assert leases.requeue_stalled(ctx) == {} and ctx.queue.pending_count() == 0
    assert outcome(ctx, crash_run)[0] == numbers

    later = datetime.now(UTC) + timedelta(seconds=ctx.settings.lease_stall_seconds + 5)
    clock.set_clock(lambda: later)
    assert leases.requeue_stalled(ctx) == {runs.RUN_JOB: [crash_run]}  # queued again for a worker
    assert ctx.queue.pending_count() == 1
    resumed: list[int] = []
    finished = runs.run_import(ctx, crash_run, on_progress=lambda run: resumed.append(run.cursor))
    assert resumed == [750, 801]  # after the last committed batch, not from the start
    assert finished.status == "done" and finished.attempts == 2

    clean, crashed = outcome(ctx, clean_run), outcome(ctx, crash_run)
    assert crashed[0] == clean[0]
    assert crashed[0] == {
        "status": "done",
        "total": 801,
        "cursor": 801,
        "created": 798,
        "updated": 0,
        "unchanged": 0,
        "failed": 3,
        "removed": 0,
        "progress": 1.0,
        "error": None,
    }
    assert (
        crashed[1]
        == clean[1]
        == [
            (100, "t-100", "no title (media:title or title)"),
            (700, "t-700", "no title (media:title or title)"),
            (801, "t-5", "the guid appears twice in the feed"),
        ]
    )
    assert crashed[2] == clean[2] and len(crashed[2]) == 798 and all(row[-1] for row in crashed[2])
    assert count_rows(ctx, FeedFailure) == 6


def test_a_run_interrupted_by_an_error_is_marked_failed_with_its_progress_kept(ctx, make_account, partner_site):
    partner = make_account(Role.partner)
    run_id = start(ctx, make_feed(ctx, partner, partner_site.put("/c.xml", catalogue(600))))

    def database_trouble(run: FeedRun) -> None:
        raise RuntimeError("disk full")

    finished = runs.run_import(ctx, run_id, on_progress=database_trouble)
    assert (finished.status, finished.cursor, finished.created) == ("failed", 250, 250)
    assert finished.error == "The import failed (RuntimeError)."


def test_a_run_keeps_the_first_thousand_failures_and_counts_them_all(ctx, make_account, partner_site):
    partner = make_account(Role.partner)
    untitled = [item(f"u-{n}", None, f"{CDN}/u-{n}.mp4") for n in range(1, runs.MAX_FAILURES_KEPT + 6)]
    url = partner_site.put("/feed.xml", mrss(*untitled, title_item(1)))
    finished = runs.run_import(ctx, start(ctx, make_feed(ctx, partner, url)))
    assert (finished.status, finished.total, finished.failed, finished.created) == ("done", 1006, 1005, 1)
    numbers, failures, rows = outcome(ctx, finished.id)
    assert [f[:2] for f in failures] == [(n, f"u-{n}") for n in range(1, 1001)] and len(rows) == 1


# Memory ------------------------------------------------------------------------------------------


def _peak_rss_kib() -> int | None:
    """The process's peak resident memory (Linux) since `_reset_peak_rss`: what tracemalloc does not see, as
    lxml's tree is C memory."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except OSError:
        return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def test_a_huge_feed_is_imported_in_bounded_memory(ctx, make_account, partner_site, tmp_path):
    """4x the items, (nearly) the same peak: the feed is read as a stream and written in batches. Python's
    allocations (tracemalloc) and the whole process's (peak RSS, where lxml's tree would show) are measured."""
    if not ctx.db.is_sqlite:
        pytest.skip("streaming is the reader's and the batches', the same on both databases: measured on SQLite")
    partner = make_account(Role.partner)
    synopsis = b"A long synopsis of the film, as partners write them. " * 10

    def import_measured(count: int) -> tuple[int, int | None]:
        path = tmp_path / f"feed-{count}.xml"
        path.write_bytes(catalogue(count).replace(b"</description>", synopsis + b"</description>"))
        run_id = start(ctx, make_feed(ctx, partner, partner_site.put(f"/feed-{count}.xml", path)))
        gc.collect()
        rss_before = _peak_rss_kib() if _reset_peak_rss() else None
        tracemalloc.start()
        try:
            finished = runs.run_import(ctx, run_id)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        rss_growth = _peak_rss_kib() - rss_before if rss_before is not None else None
        assert (finished.status, finished.created, finished.failed) == ("done", count, 0)
        return peak, rss_growth

    import_measured(300)  # imports, compiled statements and connections warmed
    small, small_rss = import_measured(2_500)
    large, large_rss = import_measured(10_000)
    assert count_rows(ctx, FeedItem) == 12_800
    assert large < 2 * small, (small, large)
    if small_rss is not None:  # 7,500 more items held as a tree would be some 16 MB more
        assert large_rss < small_rss + 8 * 1024, (small_rss, large_rss)


# Schedule ----------------------------------------------------------------------------------------


def test_a_scheduled_feed_is_run_by_the_sweep_when_due_and_not_before(ctx, make_account, partner_site):
    partner = make_account(Role.partner)
    t0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
    clock.set_clock(lambda: t0)
    scheduled = make_feed(ctx, partner, partner_site.put("/daily.xml", catalogue(3)), rerun_hours=6)
    make_feed(ctx, partner, partner_site.put("/manual.xml", catalogue(3)))

    def sweep_at(when: datetime) -> list[int]:
        clock.set_clock(lambda: when)
        return schedule.start_due_runs(ctx, now=when)

    def next_run_at() -> datetime:
        with ctx.db.session() as session:
            return session.get(PartnerFeed, scheduled).next_run_at

    assert next_run_at() == t0 + timedelta(hours=6)
    assert sweep_at(t0 + timedelta(hours=5, minutes=59)) == []
    assert count_rows(ctx, FeedRun) == 0 and ctx.queue.pending_count() == 0

    due = t0 + timedelta(hours=6)
    [run_id] = sweep_at(due)
    assert sweep_at(due + timedelta(minutes=1)) == []  # once
    assert next_run_at() == due + timedelta(hours=6) and ctx.queue.pending_count() == 1
    with ctx.db.session() as session:
        run = session.get(FeedRun, run_id)
        assert (run.feed_id, run.trigger, run.status, run.fetch_media) == (scheduled, "schedule", "queued", True)

    # Due again while that run still waits: no second run, the next one still planned; the stalled-work sweep
    # queues the waiting one again.
    assert sweep_at(due + timedelta(hours=6)) == []
    assert count_rows(ctx, FeedRun) == 1 and next_run_at() == due + timedelta(hours=12)
    assert ctx.queue.pending_count() == 1
    assert leases.requeue_stalled(ctx, now=due + timedelta(hours=6)) == {runs.RUN_JOB: [run_id]}
    assert ctx.queue.pending_count() == 2

    finished_at = due + timedelta(hours=6, minutes=3)
    clock.set_clock(lambda: finished_at)
    assert runs.run_import(ctx, run_id).created == 3
    assert next_run_at() == finished_at + timedelta(hours=6)
    assert sweep_at(finished_at + timedelta(hours=5)) == []
    assert len(sweep_at(finished_at + timedelta(hours=6))) == 1
