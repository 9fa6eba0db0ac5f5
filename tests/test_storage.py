"""Signed media URLs: scoped to what they were issued for, expiring, unforgeable, and never a way out of the store."""

from __future__ import annotations

import pytest

from vetrina.storage import Covers, InvalidKey, LocalStore


@pytest.fixture
def store(tmp_path):
    return LocalStore(tmp_path / "media", b"k" * 32)


def _split(url: str) -> tuple[str, str]:
    token, _, key = url.removeprefix("/media/").partition("/")
    return token, key


def test_an_hls_url_opens_its_rendition_set_and_nothing_else_until_it_expires(store):
    now = 1_800_000_000
    token, key = _split(store.signed_url("videos/1/hls-a", "master.m3u8", now, ttl_s=3600, covers=Covers.hls))
    assert key == "videos/1/hls-a/master.m3u8"
    remaining, territory = store.verify(token, key, now)
    assert remaining >= 3600 and territory == ""
    for part in ("720p/index.m3u8", "720p/seg_00001.ts", "240p/seg_00000.ts"):
        assert store.verify(token, f"videos/1/hls-a/{part}", now) is not None, part
    for other in ("poster.jpg", "thumbs/thumbs.vtt", "720p/../poster.jpg", "source.mp4", "720p/notes.txt"):
        assert store.verify(token, f"videos/1/hls-a/{other}", now) is None, other
    assert store.verify(token, "videos/1/source.mp4", now) is None
    assert store.verify(token, "videos/2/hls-a/master.m3u8", now) is None
    expires = int(token.split(".")[0])
    assert store.verify(token, key, expires) is None


def test_a_poster_url_opens_the_poster_alone(store):
    """The hole: a poster's token with the file name changed to master.m3u8 played the film anywhere."""
    now = 1_800_000_000
    token, key = _split(store.signed_url("videos/1/hls-a", "poster.jpg", now, 3600))
    assert store.verify(token, key, now) is not None
    for other in ("master.m3u8", "720p/index.m3u8", "720p/seg_00001.ts", "thumbs/thumbs.vtt"):
        assert store.verify(token, f"videos/1/hls-a/{other}", now) is None, other
    thumbs, vtt = _split(store.signed_url("videos/1/hls-a", "thumbs/thumbs.vtt", now, 3600, covers=Covers.thumbnails))
    assert store.verify(thumbs, "videos/1/hls-a/thumbs/thumb_0003.jpg", now) is not None
    assert store.verify(thumbs, "videos/1/hls-a/master.m3u8", now) is None
    with pytest.raises(InvalidKey):  # a set-wide token is only ever issued for a file of its set
        store.signed_url("videos/1/hls-a", "poster.jpg", now, 3600, covers=Covers.hls)


def test_what_a_token_covers_is_signed(store):
    now = 1_800_000_000
    token, key = _split(store.signed_url("videos/1/hls-a", "thumbs/thumbs.vtt", now, 3600, covers=Covers.thumbnails))
    expires, depth, territory, _covers, signature = token.split(".")
    forged = f"{expires}.{depth}.{territory}.h.{signature}"
    assert store.verify(forged, "videos/1/hls-a/master.m3u8", now) is None


def test_a_url_bound_to_a_territory_says_so_and_cannot_be_rebound(store):
    now = 1_800_000_000
    token, key = _split(store.signed_url("videos/1/hls-a", "master.m3u8", now, 3600, territory="CN", covers=Covers.hls))
    assert store.verify(token, key, now)[1] == "CN"
    expires, depth, _, covers, signature = token.split(".")
    for forged in (f"{expires}.{depth}.IT.{covers}.{signature}", f"{expires}.{depth}.-.{covers}.{signature}"):
        assert store.verify(forged, key, now) is None  # the territory is signed


def test_urls_are_stable_within_the_hour_so_caches_can_keep_them(store):
    first = store.signed_url("videos/1/hls-a", "poster.jpg", 1_800_000_000, 3600)
    assert store.signed_url("videos/1/hls-a", "poster.jpg", 1_800_000_000 + 59, 3600) == first


@pytest.mark.parametrize(
    "token",
    ["", "1.2", "x.y.z", "9999999999.0.-.h.abc", "9999999999.9.-.h.abc", "9999999999.1.abc", "9999999999.1.-.q.abc"],
)
def test_malformed_tokens_are_refused(store, token):
    assert store.verify(token, "videos/1/hls-a/master.m3u8", 1_800_000_000) is None


def test_another_key_signs_differently(tmp_path, store):
    other = LocalStore(tmp_path / "other", b"z" * 32)
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
