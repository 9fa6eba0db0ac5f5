"""The tag editor's ad breaks are typed as lists of seconds the way the owner's language writes numbers: "12.5, 30"
in English, "12,5; 30" in Italian (where a comma is the decimal symbol), shown back the same way; a part that does
not read as seconds is refused by name, and nothing is kept."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest

from tests.helpers import ready_video_row
from tests.web.helpers import csrf_from, sign_in, speak_with
from vetrina.accounts.models import Role
from vetrina.ads.models import VideoAdSettings
from vetrina.web.language import LANGUAGE_COOKIE


@pytest.fixture
def owned_video(ctx, client, make_account) -> int:
    """A signed-in merchant's ready 60 s video (no transcode needed: the form only checks breaks lie inside it)."""
    owner = make_account(Role.merchant)
    with ctx.db.session(write=True) as session:
        video = ready_video_row(owner.user.id)
        session.add(video)
        session.flush()
        video_id = video.id
    sign_in(client, owner.user.email)
    return video_id


def _save(client, video_id: int, midrolls: str, overlays: str = ""):
    token = csrf_from(client.get(f"/videos/{video_id}/tags").text)
    form = {"csrf_token": token, "preroll": "on", "midrolls": midrolls, "overlays": overlays, "floor": ""}
    return client.post(f"/videos/{video_id}/ad-settings", data=form, follow_redirects=False)


def _breaks(ctx, video_id: int) -> tuple[list[float], list[float]] | None:
    with ctx.db.session() as session:
        row = session.get(VideoAdSettings, video_id)
        return (list(row.midrolls_s), list(row.overlays_s)) if row is not None else None


def _field(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def _refusal(response) -> str:
    """The problem's text the form goes back with."""
    assert response.status_code == 303
    location = response.headers["location"]
    assert "?msg=" in location
    return location.split("?msg=", 1)[1]


def test_an_italian_owner_types_breaks_with_decimal_commas_and_semicolons_between(
    ctx, client, owned_video, monkeypatch
):
    speak_with(monkeypatch, "it", {})  # Italian numbers, English words: the test reads the label's separator
    client.cookies.set(LANGUAGE_COOKIE, "it")
    saved = _save(client, owned_video, "12,5; 30", overlays=" 2,25 ;7 ")
    assert saved.status_code == 303 and _breaks(ctx, owned_video) == ([12.5, 30.0], [2.25, 7.0])
    page = client.get(f"/videos/{owned_video}/tags").text
    assert _field(page, "midrolls") == "12,5; 30" and _field(page, "overlays") == "2,25; 7"
    assert "“;”" in html.unescape(page)  # the labels say what separates the seconds
    assert _save(client, owned_video, _field(page, "midrolls")).status_code == 303  # what is shown reads back
    assert _breaks(ctx, owned_video) == ([12.5, 30.0], [])


def test_an_english_owner_types_breaks_with_decimal_points_and_commas_or_semicolons_between(ctx, client, owned_video):
    assert _save(client, owned_video, "12.5, 30", overlays="2.25; 7").status_code == 303
    assert _breaks(ctx, owned_video) == ([12.5, 30.0], [2.25, 7.0])
    page = client.get(f"/videos/{owned_video}/tags").text
    assert _field(page, "midrolls") == "12.5, 30" and _field(page, "overlays") == "2.25, 7"
    assert "“,”" in html.unescape(page)


@pytest.mark.parametrize(
    ("language", "midrolls", "overlays", "refused"),
    [
        ("it", "12,5, 30", "", "In the mid-rolls, “12,5, 30” is not a number of seconds (write them like 12,5; 30)."),
        ("it", "12.5", "", "In the mid-rolls, “12.5” is not a number of seconds (write them like 12,5; 30)."),
        ("it", "1.500", "", "In the mid-rolls, “1.500” is not a number of seconds (write them like 12,5; 30)."),
        ("it", "3", "2; tre", "In the overlay cards, “tre” is not a number of seconds (write them like 12,5; 30)."),
        ("en", "12.5, nan", "", "In the mid-rolls, “nan” is not a number of seconds (write them like 12.5, 30)."),
        ("en", "1e3", "", "In the mid-rolls, “1e3” is not a number of seconds (write them like 12.5, 30)."),
        ("en", "3", "1.2.3", "In the overlay cards, “1.2.3” is not a number of seconds (write them like 12.5, 30)."),
        # What the ads service refuses for the API, it refuses from the form too.
        ("it", "-3", "", "Breaks lie within the video's 60 s."),
        ("en", "3", "9" * 400, "Breaks lie within the video's 60 s."),
        ("en", ", ".join(["1"] * 21), "", "At most 20 mid-rolls and 20 overlays."),
    ],
)
def test_a_part_that_is_not_seconds_is_refused_by_name_and_nothing_is_kept(
    ctx, client, owned_video, monkeypatch, language, midrolls, overlays, refused
):
    speak_with(monkeypatch, "it", {})  # Italian numbers in the English problems the test reads
    assert _save(client, owned_video, "10").status_code == 303
    client.cookies.set(LANGUAGE_COOKIE, language)
    assert _refusal(_save(client, owned_video, midrolls, overlays)) == quote(refused)
    assert _breaks(ctx, owned_video) == ([10.0], [])
