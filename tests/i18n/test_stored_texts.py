"""Texts Vetrina stores for people to read later (a failed transcode's reason, an order's history, a payment's note)
are kept as their catalogue text and parameters and shown in the reader's language; typed text and rows written
before stay exactly as they were, and a stored text that cannot be read is shown as it is, never an error."""

from __future__ import annotations

import json
from datetime import timedelta

from markupsafe import escape
from sqlalchemy import select, text, update

from tests.helpers import ready_video_row
from tests.web.helpers import sign_in
from vetrina import clock, leases
from vetrina.accounts.models import Role
from vetrina.i18n import STORED_MARK, Message, _, from_storage, n_, translations
from vetrina.live import service as live
from vetrina.media.models import Video, VideoStatus
from vetrina.studio.models import Spot, SpotStatus
from vetrina.studio.voice import NO_SPEECH_NOTE

NESTED = _(
    "The order could not be paid ({reason}): the money is in your wallet.",
    reason=_("There is no product {product_id}.", product_id=7),
)


def _failed_video(ctx, owner_id: int, error: str | None) -> int:
    with ctx.db.session() as session:
        video = ready_video_row(owner_id, status=VideoStatus.failed.value, error=error, published=False)
        session.add(video)
        session.flush()
        return video.id


def _error(ctx, video_id: int) -> str | None:
    with ctx.db.session() as session:
        return session.scalar(select(Video.error).where(Video.id == video_id))


def _raw_error(ctx, video_id: int) -> str | None:
    """The column as the database holds it, past the type."""
    with ctx.db.session() as session:
        return session.execute(text("SELECT error FROM videos WHERE id = :id"), {"id": video_id}).scalar_one()


def _set_raw_error(ctx, video_id: int, value: str) -> None:
    with ctx.db.session() as session:
        session.execute(text("UPDATE videos SET error = :value WHERE id = :id"), {"value": value, "id": video_id})


def test_a_stored_message_comes_back_a_message_in_english_and_is_shown_in_each_language(ctx, make_account):
    owner = make_account(Role.merchant)
    video_id = _failed_video(ctx, owner.user.id, NESTED)
    assert _raw_error(ctx, video_id).startswith(STORED_MARK + "{")  # its catalogue text and parameters, not English
    stored = _error(ctx, video_id)
    assert isinstance(stored, Message)
    assert stored == "The order could not be paid (There is no product 7.): the money is in your wallet."
    for language in ("it", "zh"):
        shown = stored.localised(language)
        assert shown == NESTED.localised(language) and shown != stored
        assert translations(language).gettext("There is no product {product_id}.").format(product_id=7) in shown


def test_plurals_and_core_updates_are_stored_as_messages_too(ctx, make_account):
    owner = make_account(Role.merchant)
    video_id = _failed_video(ctx, owner.user.id, None)
    plural = n_(
        "Password changed; signed out of {count} other session.",
        "Password changed; signed out of {count} other sessions.",
        3,
    )
    with ctx.db.session() as session:  # Core, as the lease and transcode code write errors
        session.execute(update(Video).where(Video.id == video_id).values(error=plural))
    stored = _error(ctx, video_id)
    assert isinstance(stored, Message) and stored == "Password changed; signed out of 3 other sessions."
    assert stored.localised("it") == "Password modificata; hai chiuso 3 altre sessioni."


def test_plain_and_typed_text_is_stored_and_read_as_it_is(ctx, make_account):
    owner = make_account(Role.merchant)
    for typed in ("The box arrived broken", '{"msgid": "Not found"}', ""):
        video_id = _failed_video(ctx, owner.user.id, typed)
        assert _raw_error(ctx, video_id) == typed
        stored = _error(ctx, video_id)
        assert stored == typed and type(stored) is str


def test_typed_text_that_begins_like_a_stored_message_stays_typed_text(ctx, make_account):
    """Typed text never holds the mark (clean_text refuses control characters); text from elsewhere that does is
    escaped, so it can never be read back as a Message."""
    owner = make_account(Role.merchant)
    for lookalike in (STORED_MARK + '{"msgid": "Not found"}', STORED_MARK + "x", STORED_MARK * 2):
        video_id = _failed_video(ctx, owner.user.id, lookalike)
        assert _raw_error(ctx, video_id) == STORED_MARK + lookalike
        stored = _error(ctx, video_id)
        assert stored == lookalike and type(stored) is str


def test_english_stored_before_still_reads_and_a_damaged_or_forgotten_text_shows_as_it_is(client, ctx, make_account):
    owner = make_account(Role.merchant)
    assert sign_in(client, owner.user.email).status_code == 303
    cases = {
        # A row written before stored texts were translated: its English.
        "The video could not be decoded; the file may be damaged or truncated (moov atom not found).": (
            "The video could not be decoded; the file may be damaged or truncated (moov atom not found)."
        ),
        STORED_MARK + '{"msgid": "broken': '{"msgid": "broken',  # damaged JSON: the stored text
        STORED_MARK + '["a list"]': '["a list"]',  # JSON, but no Message
        STORED_MARK + '{"msgid": "A text no catalogue has ({n})", "params": {"n": 3}}': "A text no catalogue has (3)",
    }
    for raw, expected in cases.items():
        video_id = _failed_video(ctx, owner.user.id, "x")
        _set_raw_error(ctx, video_id, raw)
        assert _error(ctx, video_id) == expected
        page = client.get(f"/watch/{video_id}", headers={"Accept-Language": "it"})
        assert page.status_code == 200 and escape(expected) in page.text


def test_a_failed_transcode_is_explained_in_the_readers_language_on_its_page_and_in_the_api(client, ctx, make_account):
    """The lease gives up on a video whose workers kept dying (a Core update writes why); its owner reads why in
    Italian on the watch page and in the API, in English when asking for English."""
    owner = make_account(Role.merchant)
    limit = ctx.settings.lease_max_attempts
    stale = clock.now() - timedelta(seconds=ctx.settings.lease_stall_seconds + 60)
    with ctx.db.session() as session:
        video = ready_video_row(owner.user.id, status=VideoStatus.processing.value, progress=0.3, published=False)
        video.attempts, video.heartbeat_at, video.lease_token = limit, stale, "gone"
        session.add(video)
        session.flush()
        video_id = video.id
    assert leases.claim(ctx, Video, video_id) is None
    why = _("{work} stopped after {limit} interrupted attempts.", work=_("Transcoding"), limit=limit)
    assert _error(ctx, video_id) == why  # English for logs and tests

    italian = why.localised("it")
    assert italian != why
    assert sign_in(client, owner.user.email).status_code == 303
    page = client.get(f"/watch/{video_id}", headers={"Accept-Language": "it"})
    assert page.status_code == 200 and page.headers["content-language"] == "it"
    assert escape(italian) in page.text
    assert escape(why) not in page.text

    answer = client.get(f"/api/v1/videos/{video_id}", headers={**owner.auth, "Accept-Language": "it"})
    assert answer.json()["status"] == "failed" and answer.json()["error"] == italian
    assert answer.headers["content-language"] == "it" and "Accept-Language" in answer.headers["vary"]
    english = client.get(f"/api/v1/videos/{video_id}", headers={**owner.auth, "Accept-Language": "en"})
    assert english.json()["error"] == why and english.headers["content-language"] == "en"


def test_why_a_live_stream_was_dropped_is_told_to_its_host_in_their_language(client, ctx, make_account):
    """The encoder's reason, stored in a column of 300 characters: in Chinese on the host's page; a reason whose
    stored form would not fit is kept as its English."""
    host = make_account(Role.merchant)
    show = client.post("/api/v1/live", headers=host.auth, json={"title": "ZX-7"})
    assert show.status_code == 201, show.text
    show_id = show.json()["id"]
    problem = _("The stream's video is {codec}: send H.264 (x264 or a hardware H.264 encoder).", codec="VP6")
    with ctx.db.session() as session:
        live.note_stream_problem(session, show_id, problem)
    assert sign_in(client, host.user.email).status_code == 303
    page = client.get(f"/live/{show_id}/host", headers={"Accept-Language": "zh"})
    told = _("Your stream was dropped: {problem}", problem=problem).localised("zh")
    assert page.status_code == 200 and escape(told) in page.text

    long = _("The stream's sound is {codec}: send AAC (or MP3), or no sound.", codec="x" * 230)
    assert len(long) <= 300
    with ctx.db.session() as session:
        live.note_stream_problem(session, show_id, long)
    with ctx.db.session() as session:
        kept = live.get_show(session, show_id).stream_problem
    assert kept == long and type(kept) is str


def test_a_spots_notes_are_kept_each_and_read_in_the_askers_language(client, ctx, make_account):
    """A JSON list of texts (a spot's notes, shown by the studio's script): each Message translated, typed text not."""
    merchant = make_account(Role.merchant)
    with ctx.db.session() as session:
        spot = Spot(
            merchant_id=merchant.user.id,
            spec={"template": "showcase", "duration_s": 15, "aspect": "16:9", "title": "ZX-7"},
            notes=[NO_SPEECH_NOTE, "ZX-7 ∞", STORED_MARK + "x"],
            status=SpotStatus.failed.value,
            error=_("The render failed: {error}", error="exit 1"),
            created_at=clock.now(),
        )
        session.add(spot)
        session.flush()
        spot_id = spot.id
    with ctx.db.session() as session:
        notes = session.get_one(Spot, spot_id).notes
    assert notes == [NO_SPEECH_NOTE, "ZX-7 ∞", STORED_MARK + "x"] and isinstance(notes[0], Message)
    answer = client.get(f"/api/v1/studio/spots/{spot_id}", headers={**merchant.auth, "Accept-Language": "zh"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["notes"] == [NO_SPEECH_NOTE.localised("zh"), "ZX-7 ∞", STORED_MARK + "x"]
    assert answer.json()["error"] == _("The render failed: {error}", error="exit 1").localised("zh")
    assert answer.headers["content-language"] == "zh"


def test_a_text_reaches_no_further_than_its_values():
    """Catalogue and stored texts are data: a placeholder that reads an attribute or an index, converts, or pads is
    left as written, never filled (a stored `{m.localised.__globals__}` would otherwise print the process's globals)."""
    secret = Message("{name}", {"name": "tea"})
    for hostile in ("{m.localised.__globals__}", "{m.msgid[0]}", "{m!r}", "{m:>999999999}", "{m:{width}}"):
        stored = STORED_MARK + json.dumps({"msgid": hostile, "params": {"m": {"msgid": "{name}", "params": {}}}})
        shown = from_storage(stored)
        assert str(shown) == hostile and shown.localised("it") == hostile
        assert _(hostile, m=secret, width=9) == hostile
    assert _("{seconds:.1f} s of {count}", seconds=2.25, count=3) == "2.2 s of 3"  # a precision is allowed
