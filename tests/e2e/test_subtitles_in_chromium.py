"""Subtitles in Chromium, through the watch page's own player: the subtitles menu (a real button, keyboard only)
lists Off and each language by its own name; hls.js shows the chosen language's cue at its second (±0.5 s) and
takes it away at its end; the choice is remembered and chosen again on the next visit."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import make_clip, wait_for, wait_in_page
from vetrina.accounts.models import Role

pytestmark = pytest.mark.slow

CUE_START_S, CUE_END_S = 3.0, 5.0
ENGLISH = "WEBVTT\n\n00:00:03.000 --> 00:00:05.000\nHello from second three.\n"
ITALIAN = "1\n00:00:03,000 --> 00:00:05,000\nCiao dal secondo tre.\n"

# Notes, on the page, when the showing subtitle track's cue appears and goes: the video's time then, and the cue.
WATCH_CUES = """() => {
  const video = document.querySelector("video");
  window.cueLog = [];
  const watch = (track) => track.addEventListener("cuechange", () => {
    if (track.mode !== "showing") return;
    const cue = track.activeCues && track.activeCues[0];
    window.cueLog.push(cue ? {text: cue.text, at: video.currentTime, start: cue.startTime, end: cue.endTime,
                              language: track.language} : {gone: video.currentTime});
  });
  Array.from(video.textTracks).forEach(watch);
  video.textTracks.addEventListener("addtrack", (event) => watch(event.track));
}"""
SHOWING = "Array.from(document.querySelector('video').textTracks).find((t) => t.mode === 'showing')"


@pytest.fixture
def subtitled(live_server, make_account, media_dir) -> int:
    """A ready 8 s film with English and Italian (SRT) subtitles over 3–5 s."""
    merchant = make_account(Role.merchant)
    clip = make_clip(media_dir / "subtitled-8s.mp4", 8, size="426x240")
    with httpx.Client(base_url=live_server.url, headers=merchant.auth, timeout=30) as http:
        with clip.open("rb") as handle:
            video_id = http.post("/api/v1/videos", data={"title": "Subtitled"}, files={"file": ("c.mp4", handle)})
        video_id = video_id.json()["id"]
        wait_for(lambda: http.get(f"/api/v1/videos/{video_id}").json()["status"] == "ready", timeout_s=180)
        for language, text, name in (("en", ENGLISH, "en.vtt"), ("it", ITALIAN, "it.srt")):
            added = http.post(
                f"/api/v1/videos/{video_id}/subtitles", data={"language": language}, files={"file": (name, text)}
            )
            assert added.status_code == 201, added.text
    return video_id


def test_the_player_shows_the_chosen_subtitles_at_their_second_and_remembers(live_server, subtitled, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/watch/{subtitled}")
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.subtitles && window.vetrinaPlayer.hls")
    page.evaluate(WATCH_CUES)
    wait_in_page(page, "!document.querySelector('.subtitles-control').hidden")

    # Keyboard alone: the button opens the menu on Off, arrows move, Enter chooses, focus comes back.
    page.focus(".controls .subtitles")
    page.keyboard.press("Enter")
    assert page.get_attribute(".controls .subtitles", "aria-expanded") == "true"
    items = page.eval_on_selector_all(
        ".subtitles-menu [role=menuitemradio]", "els => els.map(e => [e.textContent, e.getAttribute('aria-checked')])"
    )
    assert items == [["Off", "true"], ["English", "false"], ["Italiano", "false"]]
    assert page.evaluate("document.activeElement.textContent") == "Off"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.get_attribute(".controls .subtitles", "aria-expanded") == "false"
    assert page.evaluate("document.activeElement.classList.contains('subtitles')")
    assert page.get_attribute(".controls .subtitles", "aria-label") == "Subtitles: Italiano"
    assert page.evaluate("localStorage.getItem('vetrina.subtitles')") == "it"

    # The Italian cues are in before the film plays: then the cue shows at 3 s and goes at 5 s.
    wait_in_page(
        page, f"(() => {{ const t = {SHOWING}; return t && t.language === 'it' && t.cues && t.cues.length; }})()"
    )
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    wait_in_page(page, "window.cueLog.some((entry) => entry.gone !== undefined)", timeout_ms=30_000)
    shown = next(entry for entry in page.evaluate("window.cueLog") if "text" in entry)
    gone = next(entry["gone"] for entry in page.evaluate("window.cueLog") if "gone" in entry)
    assert (shown["text"], shown["language"]) == ("Ciao dal secondo tre.", "it")
    assert abs(shown["at"] - CUE_START_S) <= 0.5, shown
    assert abs(shown["start"] - CUE_START_S) <= 0.5 and abs(shown["end"] - CUE_END_S) <= 0.5, shown
    assert abs(gone - CUE_END_S) <= 0.5, gone
    assert errors == []

    # The next visit chooses Italian again by itself.
    page.reload()
    wait_in_page(page, "window.vetrinaPlayer && window.vetrinaPlayer.subtitles && window.vetrinaPlayer.hls")
    wait_in_page(page, f"(() => {{ const t = {SHOWING}; return t && t.language === 'it'; }})()")
    assert page.evaluate("window.vetrinaPlayer.hls.subtitleTrack") == page.evaluate(
        "window.vetrinaPlayer.hls.subtitleTracks.findIndex((t) => t.lang === 'it')"
    )
    assert page.get_attribute(".controls .subtitles", "aria-label") == "Subtitles: Italiano"

    # Off, by pointer this time: nothing shows, and nothing is chosen on the next visit.
    page.click(".controls .subtitles")
    page.click(".subtitles-menu [role=menuitemradio] >> text=Off")
    wait_in_page(page, f"!{SHOWING}")
    assert page.evaluate("localStorage.getItem('vetrina.subtitles')") == "off"
    assert page.evaluate("window.vetrinaPlayer.hls.subtitleTrack") == -1
