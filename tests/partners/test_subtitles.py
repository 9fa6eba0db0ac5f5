"""A feed's `media:subTitle`s imported with its title: fetched from the partner's server as its media are, checked as
uploads are, a bad one failing alone (noted on the item, the video and the other languages kept), and a changed
feed carried through to the video's subtitles."""

from __future__ import annotations

import pytest

from tests.helpers import make_clip, wait_for
from tests.partners.helpers import create_feed, feed_items, item, mrss, run_feed
from vetrina.accounts.models import Role

ENGLISH = "WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHello.\n"
ITALIAN = "1\n00:00:00,500 --> 00:00:01,500\nCiao.\n"
PAST_THE_END = "WEBVTT\n\n00:00:00.500 --> 00:00:09.000\nToo long.\n"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fetch_allow_private": True, "ladder_heights": [240]})


def subtitle(lang: str, href: str, kind: str = "text/vtt") -> str:
    return f'<media:subTitle type="{kind}" lang="{lang}" href="{href}"/>'


def ready_item(client, partner, feed_id: int, guid: str) -> dict:
    """The item once its media is fetched and its video transcoded."""

    def ready():
        found = feed_items(client, partner, feed_id)[guid]
        if found["media_status"] != "done":
            return None
        video = client.get(f"/api/v1/videos/{found['video_id']}", headers=partner.auth).json()
        return found if video["status"] == "ready" else None

    return wait_for(ready, timeout_s=90, message="the title's video")


def languages(client, video_id: int) -> dict[str, tuple[str, int]]:
    listed = client.get(f"/api/v1/videos/{video_id}/subtitles").json()
    return {s["language"]: (s["source"], s["cue_count"]) for s in listed}


def test_feed_subtitles_come_with_the_title_and_a_bad_one_fails_alone(client, make_account, media_dir, partner_site):
    partner = make_account(Role.partner)
    clip = make_clip(media_dir / "partner-2s.mp4", 2, size="320x240")
    site = partner_site
    media_url = site.put("/media/film.mp4", clip, "video/mp4")
    en = site.put("/subs/en.vtt", ENGLISH.encode(), "text/vtt; charset=utf-8")
    it = site.put("/subs/it.srt", ITALIAN.encode(), "application/x-subrip")
    de = site.put("/subs/de.vtt", PAST_THE_END.encode(), "text/vtt")
    listed = [
        subtitle("en", en),
        subtitle("it", it, "application/x-subrip"),
        subtitle("de", de),
        subtitle("fr", "file:///etc/passwd"),
        subtitle("es", f"{site.url}/subs/es.ttml", "application/ttml+xml"),
        subtitle("pt", f"{site.url}/subs/missing.vtt"),
    ]
    feed = create_feed(client, partner, site.put("/feed.xml", mrss(item("film", "Film", media_url, "".join(listed)))))
    report = run_feed(client, partner, feed["id"], fetch_media=True)
    assert (report["status"], report["created"], report["failed"]) == ("done", 1, 0), report
    film = ready_item(client, partner, feed["id"], "film")

    assert languages(client, film["video_id"]) == {"en": ("feed", 1), "it": ("feed", 1)}
    note = film["media_error"]
    assert "media:subTitle de: Cue 1 (line 3) ends at 00:00:09.000, after the end of the video" in note
    assert "media:subTitle fr: The address is refused" in note
    assert "media:subTitle es: The type application/ttml+xml is not WebVTT" in note
    assert "media:subTitle pt: The server answered 404." in note
    assert "/subs/es.ttml" not in site.requests, "a type that is not subtitles is not fetched"

    # The feed changes its subtitles: Italian dropped, German fixed; the title's video follows, fetched anew.
    site.put("/subs/de.vtt", ENGLISH.replace("Hello", "Hallo").encode(), "text/vtt")
    changed = [subtitle("en", en), subtitle("de", de)]
    site.put("/feed.xml", mrss(item("film", "Film", media_url, "".join(changed))))
    again = run_feed(client, partner, feed["id"], fetch_media=True)
    assert (again["updated"], again["failed"]) == (1, 0), again
    wait_for(
        lambda: languages(client, film["video_id"]) == {"en": ("feed", 1), "de": ("feed", 1)},
        timeout_s=30,
        message="the video's subtitles in step with the feed",
    )
    assert feed_items(client, partner, feed["id"])["film"]["media_error"] is None
    assert site.requests.count("/media/film.mp4") == 1, "the film itself is not fetched again"
