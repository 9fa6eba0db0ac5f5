"""The subtitles API: upload (WebVTT, SRT converted), list, replace, delete; bad files refused with a problem that
names the cue; who may do what; and nothing half-written."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from tests.media.subtitles.helpers import ENGLISH, ITALIAN_SRT, cues, upload
from tests.web.helpers import app_with, assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.demo import DEMO_FILMS, DEMO_SUBTITLES
from vetrina.media import subtitles
from vetrina.media.models import Video, VideoSubtitle


def stored_keys(ctx, video_id: int) -> list[str]:
    return sorted(found.key for found in ctx.store.list(f"videos/{video_id}/subtitles"))


def test_upload_list_replace_and_delete(client, ctx, owner, video_id):
    created = upload(client, owner, video_id, "en", ENGLISH)
    assert created.status_code == 201, created.text
    english = created.json()
    assert {k: english[k] for k in ("language", "name", "cue_count", "source")} == {
        "language": "en",
        "name": "English",
        "cue_count": 2,
        "source": "upload",
    }
    assert client.get(english["url"]).text == ENGLISH  # WebVTT kept as it was written

    italian = upload(client, owner, video_id, "IT", ITALIAN_SRT, name="subs.srt")
    assert italian.status_code == 201, italian.text
    assert (italian.json()["language"], italian.json()["name"]) == ("it", "Italiano")
    served = client.get(italian.json()["url"])
    assert served.headers["content-type"].startswith("text/vtt")
    # SRT became WebVTT: a header, dots in the timings, its ids kept, <font> dropped and & escaped.
    assert served.text == (
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nCiao &amp; <b>benvenuti</b>.\n\n"
        "2\n00:00:03.000 --> 00:00:05.000\nDue righe\ndi testo.\n"
    )
    assert italian.json()["size_bytes"] == len(served.content)

    listed = client.get(f"/api/v1/videos/{video_id}/subtitles")  # anyone may list a public video's
    assert listed.status_code == 200
    assert [(s["language"], s["name"], s["cue_count"]) for s in listed.json()] == [
        ("en", "English", 2),
        ("it", "Italiano", 2),
    ]
    assert len(stored_keys(ctx, video_id)) == 2

    # The same language again replaces it: 200, a new file, the old one gone once committed.
    replaced = upload(client, owner, video_id, "en", cues((1, 2), (2, 3), (4, 5)))
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["cue_count"] == 3 and replaced.json()["url"] != english["url"]
    assert client.get(english["url"]).status_code == 404
    assert len(stored_keys(ctx, video_id)) == 2

    assert client.delete(f"/api/v1/videos/{video_id}/subtitles/it", headers=owner.auth).status_code == 204
    assert [s["language"] for s in client.get(f"/api/v1/videos/{video_id}/subtitles").json()] == ["en"]
    assert all("/it-" not in key for key in stored_keys(ctx, video_id))
    assert_problem(client.delete(f"/api/v1/videos/{video_id}/subtitles/it", headers=owner.auth), 404, "not-found")


def test_language_tags_are_normalised_and_named_in_themselves(client, owner, video_id):
    for tag, language, name in (("zh-hans", "zh-Hans", "中文 (简体)"), ("pt_br", "pt-BR", "Português (Brasil)")):
        answer = upload(client, owner, video_id, tag, ENGLISH)
        assert answer.status_code == 201, answer.text
        assert (answer.json()["language"], answer.json()["name"]) == (language, name)
    assert client.delete(f"/api/v1/videos/{video_id}/subtitles/zh-HANS", headers=owner.auth).status_code == 204


LATIN_1_SRT = "1\n00:00:01,000 --> 00:00:02,000\nPerché sì\n".encode("latin-1")


@pytest.mark.parametrize(
    ("body", "status", "slug", "says"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 415, "unsupported-media", "not WebVTT or SRT"),
        (b"Just some notes about the film.\n", 415, "unsupported-media", "not WebVTT or SRT"),
        (LATIN_1_SRT, 422, "invalid-input", "not UTF-8"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nciao\n".encode("utf-16"), 422, "invalid-input", "UTF-16"),
        (b"WEBVTT\n\nNOTE nothing to show\n", 422, "invalid-input", "no cues"),
        (
            cues((1, 2), (58, 61.5)).encode(),
            422,
            "invalid-input",
            "Cue 2 (line 6) ends at 00:01:01.500, after the end of the video (00:01:00.000)",
        ),
        (
            cues((5, 6), (1, 2)).encode(),
            422,
            "invalid-input",
            "Cue 2 (line 6) starts at 00:00:01.000, before cue 1 (00:00:05.000)",
        ),
        (
            cues((1, 9), (2, 8), (3, 4)).encode(),
            422,
            "invalid-input",
            "Cue 3 (line 9, 00:00:03.000 --> 00:00:04.000) overlaps cues 1 and 2",
        ),
        (cues((3, 3)).encode(), 422, "invalid-input", "Cue 1 (line 3) ends at 00:00:03.000, which is not after"),
        (
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\na\n00:00:03.000 --> 00:00:04.000\nb\n",
            422,
            "invalid-input",
            "a blank line is missing",
        ),
        (b"WEBVTT\n\n1 --> 2\nbad timing\n", 422, "invalid-input", "Line 3 is not a cue timing"),
        (cues((1, 2)).replace("Cue 1", "x" * 1001).encode(), 422, "invalid-input", "1001 characters"),
        (
            b"WEBVTT\n\n" + b"9" * 5000 + b":00:01.000 --> 00:00:02.000\nhuge hours\n",
            422,
            "invalid-input",
            "Line 3 is not a cue timing",
        ),
    ],
    ids=[
        "binary",
        "prose",
        "latin-1",
        "utf-16",
        "no-cues",
        "past-the-end",
        "out-of-order",
        "three-at-once",
        "empty-span",
        "no-blank-line",
        "bad-timing",
        "long-text",
        "huge-hours",
    ],
)
def test_bad_files_are_refused_saying_why(client, ctx, owner, video_id, body, status, slug, says):
    problem = assert_problem(upload(client, owner, video_id, "en", body), status, slug)
    assert says in problem["detail"]
    assert client.get(f"/api/v1/videos/{video_id}/subtitles").json() == []
    assert stored_keys(ctx, video_id) == []


def test_a_cue_a_moment_past_the_end_is_tolerated(client, owner, video_id):
    assert upload(client, owner, video_id, "en", cues((58, 60.9))).status_code == 201


def test_styles_and_regions_are_dropped(client, ctx, owner, video_id):
    styled = (
        "WEBVTT\n\nSTYLE\n::cue { display: none; background: url(https://tracker.example/x.png) }\n\n"
        "REGION\nid:hidden width:1%\n\n00:00:01.000 --> 00:00:02.000 region:hidden\nShown\n"
    )
    assert upload(client, owner, video_id, "en", styled).status_code == 201
    with ctx.db.session() as session:
        key = session.scalar(select(VideoSubtitle.storage_key).where(VideoSubtitle.video_id == video_id))
    with ctx.store.local_copy(key) as path:
        stored = path.read_text()
    assert "Shown" in stored and "STYLE" not in stored and "tracker" not in stored and "region" not in stored


def test_a_video_has_subtitles_in_a_bounded_number_of_languages(client, owner, video_id, monkeypatch):
    monkeypatch.setattr(subtitles, "MAX_LANGUAGES", 2)
    for tag in ("en", "it"):
        assert upload(client, owner, video_id, tag, ENGLISH).status_code == 201
    problem = assert_problem(upload(client, owner, video_id, "fr", ENGLISH), 422, "invalid-input")
    assert "at most 2 languages" in problem["detail"]
    assert upload(client, owner, video_id, "it", ENGLISH).status_code == 200  # replacing one still works


def test_too_many_cues_are_refused(client, owner, video_id):
    many = cues(*((n / 200, n / 200 + 0.004) for n in range(subtitles.MAX_CUES + 1)))
    problem = assert_problem(upload(client, owner, video_id, "en", many), 422, "invalid-input")
    assert f"more than {subtitles.MAX_CUES} cues" in problem["detail"]


def test_an_enormous_file_is_a_413_while_read_or_before(client, ctx, owner, video_id):
    limit = ctx.settings.subtitle_max_bytes
    enormous = cues((1, 2)) + "NOTE " + "x" * limit + "\n"
    problem = assert_problem(upload(client, owner, video_id, "en", enormous), 413, "payload-too-large")
    assert problem["max_bytes"] == limit
    # A body declared larger than the limit and its form framing is refused before a byte of it is read.
    declared = httpx.Request(
        "POST",
        f"http://testserver/api/v1/videos/{video_id}/subtitles",
        headers={**owner.auth, "Content-Length": str(limit + 3 * 1024 * 1024), "Content-Type": "multipart/form-data"},
    )
    answer = client.send(declared)
    assert answer.status_code == 413
    assert stored_keys(ctx, video_id) == []


def test_bad_language_tags_and_missing_files_are_422s(client, owner, video_id):
    for tag in ("", "klingon!", "xx", "en_GB_oxford_extra_long_tag_beyond_reason", "und", "root"):
        problem = assert_problem(upload(client, owner, video_id, tag, ENGLISH), 422, "invalid-input")
        assert problem.get("field") == "language" or tag == "", problem
    no_file = client.post(f"/api/v1/videos/{video_id}/subtitles", headers=owner.auth, data={"language": "en"})
    assert_problem(no_file, 422, "invalid-input")


def test_only_the_owner_or_an_admin_changes_them_and_a_private_videos_are_hidden_from_others(
    client, ctx, make_account, owner, video_id
):
    stranger, admin = make_account(Role.merchant), make_account(Role.admin)
    assert_problem(upload(client, stranger, video_id, "en", ENGLISH), 403, "forbidden")
    assert upload(client, admin, video_id, "en", ENGLISH).status_code == 201
    assert_problem(client.delete(f"/api/v1/videos/{video_id}/subtitles/en", headers=stranger.auth), 403, "forbidden")
    unauthenticated = client.post(
        f"/api/v1/videos/{video_id}/subtitles", data={"language": "en"}, files={"file": ("s.vtt", ENGLISH.encode())}
    )
    assert_problem(unauthenticated, 401, "not-authenticated")

    with ctx.db.session(write=True) as session:
        session.get(Video, video_id).published = False
    missing = client.get("/api/v1/videos/999999/subtitles", headers=stranger.auth).json()
    for account in (None, stranger):
        headers = account.auth if account else {}
        hidden = client.get(f"/api/v1/videos/{video_id}/subtitles", headers=headers)
        body = assert_problem(hidden, 404, "not-found")
        assert body["detail"] == missing["detail"].replace("999999", str(video_id)), "no more than for a missing video"
        assert_problem(upload(client, stranger, video_id, "it", ENGLISH), 404, "not-found")
    assert [s["language"] for s in client.get(f"/api/v1/videos/{video_id}/subtitles", headers=owner.auth).json()] == [
        "en"
    ]


def _backdate(ctx, *where, hours: float = 25) -> None:
    with ctx.db.session(write=True) as session:
        session.execute(update(VideoSubtitle).where(*where).values(created_at=clock.now() - timedelta(hours=hours)))


def test_subtitle_uploads_count_in_the_uploads_per_day(settings, owner, video_id):
    with app_with(settings, uploads_per_day=2) as (client, ctx):
        with ctx.db.session(write=True) as session:  # the video itself was uploaded yesterday: not counted
            session.get(Video, video_id).created_at = clock.now() - timedelta(hours=25)
        assert upload(client, owner, video_id, "en", ENGLISH).status_code == 201
        _backdate(ctx, VideoSubtitle.language == "en")  # that upload was yesterday's
        # Replacing a language is an upload of today's (its time is the replacement's).
        assert upload(client, owner, video_id, "en", cues((1, 2))).status_code == 200
        assert upload(client, owner, video_id, "it", ITALIAN_SRT, name="s.srt").status_code == 201
        keys = stored_keys(ctx, video_id)

        refused = upload(client, owner, video_id, "fr", ENGLISH)
        body = assert_problem(refused, 429, "too-many-requests")
        assert body["quota"] == "uploads_per_day" and "VETRINA_UPLOADS_PER_DAY = 2" in body["detail"]
        assert 23 * 3600 < int(refused.headers["Retry-After"]) <= 24 * 3600
        assert refused.headers["connection"] == "close"  # the upload gate's answer, before the body was read
        assert_problem(upload(client, owner, video_id, "en", ENGLISH), 429, "too-many-requests")  # a replacement too
        video = client.post(
            "/api/v1/videos", headers=owner.auth, data={"title": "More"}, files={"file": ("c.mp4", b"not a video")}
        )
        assert assert_problem(video, 429, "too-many-requests")["quota"] == "uploads_per_day"

        # Nothing of the refused uploads was written.
        listed = client.get(f"/api/v1/videos/{video_id}/subtitles").json()
        assert [(s["language"], s["cue_count"]) for s in listed] == [("en", 1), ("it", 2)]
        assert stored_keys(ctx, video_id) == keys
        with ctx.db.session() as session:
            assert session.scalars(select(Video.id)).all() == [video_id]

        # A partner's feed's subtitles are not the owner's uploads.
        with ctx.db.session(write=True) as session:
            session.execute(update(VideoSubtitle).where(VideoSubtitle.language == "it").values(source="feed"))
        assert upload(client, owner, video_id, "fr", ENGLISH).status_code == 201


def test_a_failed_transaction_leaves_neither_file_nor_row(ctx, owner, video_id):
    with pytest.raises(RuntimeError), ctx.db.session(write=True) as session:
        video = session.get(Video, video_id)
        parsed = subtitles.parse_subtitles(ENGLISH.encode(), video.duration_s)
        subtitles.store_subtitles(ctx, session, video, "en", parsed, "upload")
        session.flush()
        assert stored_keys(ctx, video_id), "the file is stored first"
        raise RuntimeError("the database went away")
    assert stored_keys(ctx, video_id) == []
    with ctx.db.session() as session:
        assert session.scalars(select(VideoSubtitle)).all() == []


def test_the_demo_films_subtitles_fit_it():
    for language, text in DEMO_SUBTITLES.items():
        assert subtitles.language_tag(language) == language
        assert len(subtitles.parse_subtitles(text.encode(), DEMO_FILMS[0].seconds).cues) == 5


def test_the_uploader_is_answered_in_their_language(client, owner, video_id):
    answer = client.post(
        f"/api/v1/videos/{video_id}/subtitles",
        headers={**owner.auth, "Accept-Language": "it-IT,it;q=0.9"},
        data={"language": "en"},
        files={"file": ("s.vtt", cues((5, 6), (1, 2)).encode())},
    )
    problem = assert_problem(answer, 422, "invalid-input")
    assert problem["title"] == "I dati inseriti non sono validi"
