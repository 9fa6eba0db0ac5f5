"""A feed's subtitles: each item's MRSS `<media:subTitle lang="it" type="text/vtt" href="..."/>`, read with the item
(feeds.py keeps them in its details) and imported for its title's video when the media fetch makes it, and again by
a job (SUBTITLES_JOB) whenever the feed changes them. Each is fetched as the feed's media are (`netguard.fetch`: no
private or local addresses, a timeout, at most VETRINA_SUBTITLE_MAX_BYTES) and checked as an upload is
(media/subtitles.py). One that fails fails alone: the video keeps the others, and the item's `media_error` says
which failed and why."""

from __future__ import annotations

import logging
from typing import Any

from vetrina import netguard
from vetrina.context import Context
from vetrina.errors import VetrinaError
from vetrina.i18n import _, clipped, joined
from vetrina.jobs import job
from vetrina.media import subtitles
from vetrina.partners.models import FeedItem, MediaStatus

log = logging.getLogger(__name__)

SUBTITLES_JOB = "partners.import_subtitles"
MAX_PER_ITEM = 50
# What servers call WebVTT and SubRip files (SubRip has no registered type; text/plain is common for both).
SUBTITLE_TYPES = (
    "text/vtt",
    "application/x-subrip",
    "text/srt",
    "application/srt",
    "text/plain",
    "application/octet-stream",
)


def subtitle_links(elements: list[Any]) -> list[dict[str, str]]:
    """An item's `media:subTitle` elements as the feed writes them (checked only when imported, so a bad one
    fails alone): [{"lang", "type", "href"}]."""
    return [
        {
            "lang": (element.get("lang") or "").strip()[:40],
            "type": (element.get("type") or "").strip().lower()[:100],
            "href": (element.get("href") or "").strip()[:2000],
        }
        for element in elements[:MAX_PER_ITEM]
    ]


def subtitles_changed(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """Whether an item's details name other subtitles than they did."""
    return (before or {}).get("subtitles") != after.get("subtitles")


def import_feed_subtitles(ctx: Context, item_id: int) -> None:
    """Bring the item's video in step with the subtitles its feed lists: each fetched, checked and stored (in place
    of that language's), those the feed gave and no longer lists removed. Failures are noted on the item."""
    with ctx.db.session() as session:
        item = session.get(FeedItem, item_id)
        if item is None or item.video_id is None:
            return
        video_id, links = item.video_id, list((item.details or {}).get("subtitles") or [])
    listed: set[str] = set()
    problems: list[str] = []
    for link in links:
        try:
            language = subtitles.language_tag(link.get("lang") or "")
            listed.add(language)  # a listed language whose new file fails keeps the file it had
            if link.get("type") and link["type"] not in SUBTITLE_TYPES:
                raise netguard.FetchError(_("The type {type} is not WebVTT (text/vtt) or SRT.", type=link["type"]))
            data = _fetch(ctx, link.get("href") or "")
            with ctx.db.session(write=True) as session:
                subtitles.import_subtitles(ctx, session, video_id, language, data)
        except (VetrinaError, netguard.FetchError) as exc:
            reason = exc.reason if isinstance(exc, netguard.FetchError) else exc.detail
            problems.append(_("media:subTitle {lang}: {reason}", lang=link.get("lang") or "(no lang)", reason=reason))
        except Exception:  # a bug with one file must not stop the others, nor the clean-up below
            log.exception("feed item %s: subtitles %r could not be imported", item_id, link.get("href"))
            problems.append(_("media:subTitle {lang}: could not be read", lang=link.get("lang") or "(no lang)"))
    with ctx.db.session(write=True) as session:
        subtitles.drop_feed_subtitles(ctx, session, video_id, listed)
        item = session.get(FeedItem, item_id)
        if item is not None and item.video_id == video_id and item.media_status == MediaStatus.done.value:
            item.media_error = clipped(joined(problems), 2000) or None
    if problems:
        log.info("feed item %s: %d of its %d subtitles not imported", item_id, len(problems), len(links))


@job(SUBTITLES_JOB)
def import_subtitles_job(ctx: Context, item_id: int) -> None:
    """A feed changed the subtitles of a title that has its video already."""
    import_feed_subtitles(ctx, item_id)


def _fetch(ctx: Context, url: str) -> bytes:
    received = bytearray()
    netguard.fetch(
        url,
        ctx.settings.fetch_allow_private,
        sink=received.extend,
        max_bytes=ctx.settings.subtitle_max_bytes,
        timeout_s=ctx.settings.feed_fetch_timeout_s,
        accept=SUBTITLE_TYPES,
        total_s=4 * ctx.settings.feed_fetch_timeout_s,  # a subtitle file is small: one that trickles is refused
    )
    return bytes(received)
