"""oEmbed 1.0 (https://oembed.com): what a CMS given a watch page's URL embeds, the shoppable player in an iframe.

A URL that is not one of Vetrina's watch pages, and a video that is private, unknown or not licensed to stream in
the asker's territory, get the same 404: an oEmbed answer never tells which videos exist.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina.catalog.models import Channel
from vetrina.context import Context
from vetrina.discovery import links
from vetrina.discovery.sitemap import xml_safe
from vetrina.errors import NotFound
from vetrina.i18n import _
from vetrina.media.models import Video, VideoStatus
from vetrina.rights import service as rights

MAX_URL_LENGTH = 2000
MAX_DIMENSION = 10_000
# The embed's width when the consumer gives no maxwidth.
DEFAULT_WIDTH = 640
# A watch page: /watch/{id}, perhaps with a trailing slash (a query such as ?t= is allowed; a fragment too).
_WATCH_PATH = re.compile(r"/watch/([1-9][0-9]{0,9})/?", re.ASCII)
_MAX_ID = 2**31 - 1
PROVIDER_NAME = "Vetrina"
IFRAME_ALLOW = "autoplay; fullscreen; picture-in-picture"


def not_embeddable() -> NotFound:
    """The one answer for every URL that embeds nothing (not ours, unknown, private, unlicensed here)."""
    return NotFound(_("There is no video to embed at this URL."))


def watched_video_id(url: str, our_hosts: set[str]) -> int | None:
    """The video id of a watch page URL on one of `our_hosts` (host[:port], lower case), else None."""
    try:
        parts = urlsplit(url.strip())
        host = parts.netloc.lower()
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or host not in our_hosts or parts.username or parts.password:
        return None
    match = _WATCH_PATH.fullmatch(parts.path)
    if match is None or int(match.group(1)) > _MAX_ID:
        return None
    return int(match.group(1))


def fit(width: int, height: int, max_width: int | None, max_height: int | None) -> tuple[int, int]:
    """The largest size of the video's aspect ratio within maxwidth (DEFAULT_WIDTH when not given) and
    maxheight."""
    box_width = max_width or DEFAULT_WIDTH
    scale = box_width / width
    if max_height is not None:
        scale = min(scale, max_height / height)
    return max(1, int(width * scale)), max(1, int(height * scale))


def poster_size(width: int, height: int) -> tuple[int, int]:
    """The poster's size as the ladder writes it (media/ladder.py: at most 720 high, ffmpeg's scale=-2:H)."""
    poster_height = min(720, height - height % 2)
    return round(poster_height * width / (height * 2)) * 2, poster_height


def oembed(
    ctx: Context,
    session: Session,
    *,
    url: str,
    our_hosts: set[str],
    base_url: str,
    territory: str,
    max_width: int | None = None,
    max_height: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """The oEmbed answer for `url` as seen from `territory`, and whether it may be shared by caches (a title
    licensed by territory answers differently elsewhere); `not_embeddable()` when there is none."""
    video_id = watched_video_id(url, our_hosts)
    video = session.get(Video, video_id) if video_id is not None else None
    if video is None or not video.published or video.status != VideoStatus.ready:
        raise not_embeddable()
    grant = rights.check(ctx, session, video.id, territory, "stream")
    if not grant.allowed:
        raise not_embeddable()
    width, height = fit(video.width, video.height, max_width, max_height)
    thumb_width, thumb_height = poster_size(video.width, video.height)
    src = links.embed_url(base_url, video.id)
    iframe = (
        f'<iframe src="{html.escape(src)}" width="{width}" height="{height}" title="{html.escape(video.title)}" '
        f'frameborder="0" allow="{IFRAME_ALLOW}" allowfullscreen></iframe>'
    )
    answer: dict[str, Any] = {
        "type": "video",
        "version": "1.0",
        "title": video.title,
        "provider_name": PROVIDER_NAME,
        "provider_url": base_url + "/",
        "thumbnail_url": links.poster_url(base_url, video.id),
        "thumbnail_width": thumb_width,
        "thumbnail_height": thumb_height,
        "html": iframe,
        "width": width,
        "height": height,
    }
    channel = session.scalar(select(Channel).where(Channel.merchant_id == video.owner_id))
    if channel is not None:
        answer["author_name"] = channel.name
        answer["author_url"] = links.channel_url(base_url, channel.handle)
    return answer, not grant.managed


def oembed_xml(answer: dict[str, Any]) -> bytes:
    """The answer in oEmbed's XML form: an <oembed> element with one child per field."""
    root = etree.Element("oembed")
    for name, value in answer.items():
        etree.SubElement(root, name).text = xml_safe(str(value))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", standalone=True)
