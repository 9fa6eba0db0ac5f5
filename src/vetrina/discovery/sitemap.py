"""The video sitemap (Google's video extension of the sitemaps protocol): every published, ready title that streams
somewhere now, at its watch page, with `video:restriction` for titles licensed territory by territory.

The protocol allows 50,000 URLs per sitemap: past that, `/sitemap-videos.xml` is an index of its pages
(`?page=N`), each holding the titles in id order. Each rendered page is kept per process for its `max-age`
(`SitemapCache`), so crawlers' repeated reads cost no database work.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.context import Context, Topic
from vetrina.discovery import links
from vetrina.discovery.restriction import Restriction, streaming_restriction
from vetrina.errors import NotFound
from vetrina.i18n import _
from vetrina.media.models import Video, VideoStatus
from vetrina.rights.models import Licence
from vetrina.rights.service import Terms
from vetrina.settings import Settings

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
VIDEO_NS = "http://www.google.com/schemas/sitemap-video/1.1"
MAX_URLS = 50_000
# How long crawlers and this process may keep a rendered sitemap page (its `Cache-Control: max-age`).
CACHE_S = 300
# Google's limits on a video's title and description in a sitemap.
MAX_TITLE = 100
MAX_DESCRIPTION = 2048
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class SitemapVideo:
    id: int
    title: str
    description: str
    duration_s: float
    published_at: datetime
    restriction: Restriction | None


def _listed() -> list:
    return [Video.status == VideoStatus.ready.value, Video.published.is_(True)]


def page_count(session: Session, per_page: int = MAX_URLS) -> int:
    """How many sitemap pages the published titles fill (at least one, which may be empty)."""
    total = session.scalar(select(func.count()).select_from(Video).where(*_listed())) or 0
    return max(1, -(-total // per_page))


def sitemap_videos(session: Session, page: int, when: datetime, per_page: int = MAX_URLS) -> list[SitemapVideo]:
    """Page `page` (from 1) of the published, ready titles in id order, less those that stream nowhere now."""
    rows = session.execute(
        select(Video.id, Video.title, Video.description, Video.duration_s, Video.ready_at, Video.created_at)
        .where(*_listed())
        .order_by(Video.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    if not rows:
        return []
    # One read of the page's licences (a subquery of the same page, so no list of 50,000 ids is sent).
    page_ids = select(Video.id).where(*_listed()).order_by(Video.id).limit(per_page).offset((page - 1) * per_page)
    terms: dict[int, list[Terms]] = defaultdict(list)
    for licence in session.scalars(select(Licence).where(Licence.video_id.in_(page_ids.scalar_subquery()))):
        terms[licence.video_id].append(Terms.of(licence))
    out = []
    for row in rows:
        restriction = streaming_restriction(terms.get(row.id, []), when)
        if restriction is not None and restriction.nowhere:
            continue
        published_at = row.ready_at or row.created_at
        out.append(SitemapVideo(row.id, row.title, row.description, row.duration_s, published_at, restriction))
    return out


def xml_safe(value: str) -> str:
    """`value` without the characters XML cannot carry (a feed's title may hold them)."""
    return _NOT_XML.sub("", value)


def _text(value: str, limit: int) -> str:
    return xml_safe(value)[:limit]


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _sitemap(tag: str) -> str:
    return f"{{{SITEMAP_NS}}}{tag}"


def _video(tag: str) -> str:
    return f"{{{VIDEO_NS}}}{tag}"


def sitemap_xml(videos: list[SitemapVideo], base_url: str) -> bytes:
    """A `<urlset>` with one `<url>` per title: its watch page, and a `<video:video>` describing it."""
    root = etree.Element(_sitemap("urlset"), nsmap={None: SITEMAP_NS, "video": VIDEO_NS})
    for item in videos:
        url = etree.SubElement(root, _sitemap("url"))
        etree.SubElement(url, _sitemap("loc")).text = links.watch_url(base_url, item.id)
        entry = etree.SubElement(url, _video("video"))
        etree.SubElement(entry, _video("thumbnail_loc")).text = links.poster_url(base_url, item.id)
        etree.SubElement(entry, _video("title")).text = _text(item.title, MAX_TITLE)
        description = _text(item.description, MAX_DESCRIPTION) or _text(item.title, MAX_TITLE)
        etree.SubElement(entry, _video("description")).text = description
        etree.SubElement(entry, _video("player_loc")).text = links.embed_url(base_url, item.id)
        etree.SubElement(entry, _video("duration")).text = str(max(1, round(item.duration_s)))
        etree.SubElement(entry, _video("publication_date")).text = item.published_at.isoformat(timespec="seconds")
        if item.restriction is not None:
            restriction = etree.SubElement(entry, _video("restriction"), relationship=item.restriction.relationship)
            restriction.text = " ".join(item.restriction.territories)
    return _xml(root)


def sitemap_index_xml(pages: int, base_url: str) -> bytes:
    """A `<sitemapindex>` naming each page of the video sitemap."""
    root = etree.Element(_sitemap("sitemapindex"), nsmap={None: SITEMAP_NS})
    for page in range(1, pages + 1):
        sitemap = etree.SubElement(root, _sitemap("sitemap"))
        etree.SubElement(sitemap, _sitemap("loc")).text = f"{base_url}{links.VIDEO_SITEMAP_PATH}?page={page}"
    return _xml(root)


def robots_txt(base_url: str) -> str:
    """Crawlers may read every page; the video sitemap is named for them."""
    return f"User-agent: *\nDisallow:\n\nSitemap: {base_url}{links.VIDEO_SITEMAP_PATH}\n"


# A page asked for (None: the sitemap's own address) on one public origin.
PageKey = tuple[int | None, str]


class SitemapCache:
    """Rendered sitemap pages, fresh for `ttl_s` seconds and dropped when a video or a licence changes."""

    topics: ClassVar[frozenset[Topic]] = frozenset({Topic.video, Topic.licences})

    @classmethod
    def from_settings(cls, settings: Settings) -> SitemapCache:
        return cls(ttl_s=CACHE_S)

    # Without VETRINA_BASE_URL each Host asked for is a key: a bound keeps a flood of hosts from filling memory.
    def __init__(self, ttl_s: float, max_entries: int = 16) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[PageKey, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def fresh(self, key: PageKey) -> bytes | None:
        entry = self._entries.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def put(self, key: PageKey, body: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]  # the oldest first
            self._entries[key] = (time.monotonic() + self.ttl_s, body)

    def forget(self, key: int | None) -> None:
        # Any page may hold a changed video (or its absence): all of them go.
        with self._lock:
            self._entries.clear()


def sitemap_page(ctx: Context, session: Session, page: int | None, base_url: str) -> bytes:
    """What `/sitemap-videos.xml?page=N` answers (`page` None: the sitemap itself, or past the cap the index of its
    pages), from the cache while fresh; NotFound for a page past the last."""
    cache = ctx.caches.get(SitemapCache)
    key = (page, base_url)
    body = cache.fresh(key)
    if body is not None:
        return body
    pages = page_count(session)
    if page is None and pages > 1:
        body = sitemap_index_xml(pages, base_url)
    elif (page or 1) > pages:
        raise NotFound(_("The video sitemap has {pages} page(s).", pages=pages))
    else:
        body = sitemap_xml(sitemap_videos(session, page or 1, clock.now()), base_url)
    cache.put(key, body)
    return body
