"""The timeline cache: one rebuild at a time, stale copies served meanwhile, private videos never cached, one entry
per language, all of a video's forgotten together."""

from __future__ import annotations

import threading
import time

from vetrina.shoppable.service import RenderedTimeline, TimelineCache


def test_concurrent_cold_reads_build_once():
    cache = TimelineCache(ttl_s=60)
    builds = []

    def build():
        builds.append(1)
        time.sleep(0.2)
        return RenderedTimeline(b"{}", '"a"'), True

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_build(7, "en", build))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and {r.etag for r in results} == {'"a"'}


def test_a_stale_entry_is_served_while_one_request_refreshes_it():
    cache = TimelineCache(ttl_s=0.05)
    cache.get_or_build(1, "en", lambda: (RenderedTimeline(b"old", '"old"'), True))
    time.sleep(0.1)
    started, release = threading.Event(), threading.Event()

    def slow_build():
        started.set()
        release.wait(5)
        return RenderedTimeline(b"new", '"new"'), True

    refresher = threading.Thread(target=lambda: cache.get_or_build(1, "en", slow_build))
    refresher.start()
    started.wait(5)
    no_second_rebuild = lambda: (_ for _ in ()).throw(AssertionError("no second rebuild"))  # noqa: E731
    assert cache.get_or_build(1, "en", no_second_rebuild).etag == '"old"'
    release.set()
    refresher.join(5)
    assert cache.get_or_build(1, "en", slow_build).etag == '"new"'


def test_uncacheable_results_are_not_kept():
    cache = TimelineCache(ttl_s=60)
    calls = []

    def private():
        calls.append(1)
        return RenderedTimeline(b"mine", '"p"'), False

    cache.get_or_build(3, "en", private)
    cache.get_or_build(3, "en", private)
    assert len(calls) == 2


def test_each_language_has_its_own_entry_and_a_change_forgets_them_all():
    cache = TimelineCache(ttl_s=60)
    cache.get_or_build(5, "en", lambda: (RenderedTimeline(b"Mug", '"en"'), True))
    cache.get_or_build(5, "it", lambda: (RenderedTimeline(b"Tazza", '"it"'), True))
    cache.get_or_build(6, "it", lambda: (RenderedTimeline(b"Altro", '"other"'), True))
    assert cache.fresh(5, "en").body == b"Mug" and cache.fresh(5, "it").body == b"Tazza"
    assert cache.fresh(5, "zh") is None
    cache.forget(5)
    assert cache.fresh(5, "en") is None and cache.fresh(5, "it") is None
    assert cache.fresh(6, "it").body == b"Altro"
