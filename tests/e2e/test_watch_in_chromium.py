"""End to end over real HTTP: ffmpeg decodes the ladder from the running server, and Chromium plays it."""

from __future__ import annotations

import subprocess

import httpx
import m3u8
import pytest

from tests.helpers import make_clip, wait_for, wait_in_page
from vetrina.accounts.models import Role
from vetrina.media.ffmpeg import ffmpeg_exe

pytestmark = pytest.mark.slow


@pytest.fixture
def ready_video(live_server, make_account, media_dir):
    clip = make_clip(media_dir / "e2e-12s.mp4", 12, size="854x480")
    merchant = make_account(Role.merchant)
    with httpx.Client(base_url=live_server.url, headers=merchant.auth, timeout=30) as http, clip.open("rb") as f:
        accepted = http.post("/api/v1/videos", data={"title": "Over the wire"}, files={"file": ("c.mp4", f)})
        assert accepted.status_code == 202, accepted.text
        video_id = accepted.json()["id"]

        def ready():
            body = http.get(f"/api/v1/videos/{video_id}").json()
            assert body["status"] != "failed", body["error"]
            return body if body["status"] == "ready" else None

        return wait_for(ready, timeout_s=120, message="the upload to be ready")


def test_ffmpeg_decodes_every_rendition_over_http(live_server, ready_video):
    master_url = live_server.url + ready_video["hls_url"]
    master = m3u8.loads(httpx.get(master_url).text, uri=master_url)
    assert len(master.playlists) == 2
    for playlist in master.playlists:
        result = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-v", "error", "-i", playlist.absolute_uri, "-map", "0", "-f", "null", "-"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip() == "", result.stderr
    # The whole ladder through the master playlist, as a player would fetch it: every frame decodes.
    probe = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-v",
            "error",
            "-i",
            master_url,
            "-map",
            "0:v:0",
            "-progress",
            "pipe:1",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    frames = [int(line.split("=")[1]) for line in probe.stdout.splitlines() if line.startswith("frame=")]
    assert frames[-1] == 12 * 25


def test_chromium_plays_the_watch_page(live_server, ready_video, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The page plays under its Content-Security-Policy: nothing it needs is refused (hls.js's blob: worker...).
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/watch/{ready_video['id']}")
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.hls && window.vetrinaPlayer.hls.levels.length")
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    wait_in_page(page, "document.querySelector('video').currentTime > 3", timeout_ms=30_000)
    assert errors == []

    options = page.eval_on_selector_all(".quality option", "els => els.map(e => e.textContent)")
    assert options[0].startswith("Auto") and options[1:] == ["480p", "360p"]
    page.select_option(".quality", label="360p")
    wait_in_page(
        page,
        "window.vetrinaPlayer.hls.currentLevel >= 0 && "
        "window.vetrinaPlayer.hls.levels[window.vetrinaPlayer.hls.currentLevel].height === 360",
    )

    box = page.locator(".seek").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    page.wait_for_selector(".preview:not([hidden])")
    assert page.text_content(".preview-time") == "0:09"
    background = page.eval_on_selector(".preview-img", "el => el.style.backgroundImage")
    assert "thumb_0005.jpg" in background  # 9 s, in the fifth 2 s span
    assert page.evaluate("document.querySelector('video').paused") is False


def test_watch_page_works_at_phone_width(live_server, ready_video, browser):
    page = browser.new_page(viewport={"width": 375, "height": 740}, has_touch=True)
    page.goto(f"{live_server.url}/watch/{ready_video['id']}")
    page.wait_for_selector(".controls .play")
    player_box = page.locator("#player").bounding_box()
    assert player_box["width"] <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.tap(".controls .play")
    wait_in_page(page, "document.querySelector('video').currentTime > 1", timeout_ms=30_000)
