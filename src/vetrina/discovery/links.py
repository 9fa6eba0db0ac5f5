"""The public addresses of pages that other sites and crawlers are given (absolute, on the deployment's origin)."""

from __future__ import annotations

from urllib.parse import urlencode

# Paths of the pages these addresses name (their routes live in vetrina.web).
WATCH_PATH = "/watch/{id}"
EMBED_PATH = "/embed/{id}"
POSTER_PATH = "/watch/{id}/poster.jpg"
LIVE_PATH = "/live/{id}"
PRODUCT_PATH = "/p/{id}"
CHANNEL_PATH = "/c/{handle}"
OEMBED_PATH = "/oembed"
VIDEO_SITEMAP_PATH = "/sitemap-videos.xml"


def watch_url(base_url: str, video_id: int, start_s: int | None = None) -> str:
    """The watch page, starting playback at `start_s` when given (the player honours ?t=)."""
    url = base_url + WATCH_PATH.format(id=video_id)
    return f"{url}?t={start_s}" if start_s is not None else url


def embed_url(base_url: str, video_id: int) -> str:
    return base_url + EMBED_PATH.format(id=video_id)


def poster_url(base_url: str, video_id: int) -> str:
    """A stable poster address (it redirects to a fresh signed media URL, which expires)."""
    return base_url + POSTER_PATH.format(id=video_id)


def live_url(base_url: str, show_id: int) -> str:
    return base_url + LIVE_PATH.format(id=show_id)


def product_url(base_url: str, product_id: int) -> str:
    return base_url + PRODUCT_PATH.format(id=product_id)


def channel_url(base_url: str, handle: str) -> str:
    return base_url + CHANNEL_PATH.format(handle=handle)


def oembed_url(base_url: str, page_url: str, format: str = "json") -> str:
    return f"{base_url}{OEMBED_PATH}?{urlencode({'url': page_url, 'format': format})}"
