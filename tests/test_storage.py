"""Signed media URLs: scoped to a directory, expiring, unforgeable, and never a way out of the store."""

from __future__ import annotations

import pytest

from vetrina.storage import InvalidKey, MediaStore


@pytest.fixture
def store(tmp_path):
    return MediaStore(tmp_path / "media", b"k" * 32)


def _split(url: str) -> tuple[str, str]:
    token, _, key = url.removeprefix("/media/").partition("/")
    return token, key


def test_a_signed_url_opens_every_file_under_its_scope_until_it_expires(store):
    now = 1_800_000_000
    token, key = _split(store.signed_url("videos/1/hls-a", "master.m3u8", now, ttl_s=3600))
    assert key == "videos/1/hls-a/master.m3u8"
    remaining, territory = store.verify(token, key, now)
    assert remaining >= 3600 and territory == ""
    assert store.verify(token, "videos/1/hls-a/720p/seg_00001.ts", now) is not None
    assert store.verify(token, "videos/1/source.mp4", now) is None
    assert store.verify(token, "videos/2/hls-a/master.m3u8", now) is None
    expires = int(token.split(".")[0])
    assert store.verify(token, key, expires) is None


def test_a_url_bound_to_a_territory_says_so_and_cannot_be_rebound(store):
    now = 1_800_000_000
    token, key = _split(store.signed_url("videos/1/hls-a", "master.m3u8", now, 3600, territory="CN"))
    assert store.verify(token, key, now)[1] == "CN"
    expires, depth, _, signature = token.split(".")
    for forged in (f"{expires}.{depth}.IT.{signature}", f"{expires}.{depth}.-.{signature}"):
        assert store.verify(forged, key, now) is None  # the territory is signed


def test_urls_are_stable_within_the_hour_so_caches_can_keep_them(store):
    first = store.signed_url("videos/1/hls-a", "poster.jpg", 1_800_000_000, 3600)
    assert store.signed_url("videos/1/hls-a", "poster.jpg", 1_800_000_000 + 59, 3600) == first


@pytest.mark.parametrize("token", ["", "1.2", "x.y.z", "9999999999.0.-.abc", "9999999999.9.-.abc", "9999999999.1.abc"])
def test_malformed_tokens_are_refused(store, token):
    assert store.verify(token, "videos/1/hls-a/master.m3u8", 1_800_000_000) is None


def test_another_key_signs_differently(tmp_path, store):
    other = MediaStore(tmp_path / "other", b"z" * 32)
    token, key = _split(other.signed_url("videos/1/hls-a", "master.m3u8", 1_800_000_000, 3600))
    assert store.verify(token, key, 1_800_000_000) is None


@pytest.mark.parametrize("key", ["../etc/passwd", "videos/../../x", "/abs/path", "videos//x", "a\\b", ""])
def test_keys_cannot_escape_the_store(store, key):
    with pytest.raises(InvalidKey):
        store.path(key)


def test_scratch_left_by_crashed_work_is_cleaned(store):
    import os
    import time

    old = store.scratch_dir("upload-old")
    (old / "source").write_bytes(b"half an upload")
    fresh = store.scratch_dir("upload-fresh")
    past = time.time() - 7 * 3600
    os.utime(old, (past, past))
    assert store.clean_scratch(older_than_s=6 * 3600) == 1
    assert not old.exists() and fresh.exists()
