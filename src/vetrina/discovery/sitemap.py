"""The video sitemap (Google's video extension of the sitemaps protocol): every published, ready title that streams
somewhere now, at its watch page, with `video:restriction` for titles licensed territory by territory.

The protocol allows 50,000 URLs per sitemap: past that, `/sitemap-videos.xml` is an index of its pages
(`?page=N`), each holding the titles in id order.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina.discovery import links
from vetrina.discovery.restriction import Restriction, streaming_restriction
from vetrina.media.models import Video, VideoStatus
from vetrina.rights.models import Licence
from vetrina.rights.service import Terms

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
VIDEO_NS = "http://www.google.com/schemas/sitemap-video/1.1"
MAX_URLS = 50_000
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
