"""What crawlers and other sites ask: /robots.txt, the video sitemap, oEmbed, a video's stable poster address;
and the structured data and oEmbed discovery links of watch, live and product pages (vetrina.discovery)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.catalog.models import Product
from vetrina.discovery import links, sitemap, structured
from vetrina.discovery import oembed as oembeds
from vetrina.errors import NotFound
from vetrina.i18n import _
from vetrina.live.models import LiveShow
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.rights import service as rights
from vetrina.storage import absolute_url
from vetrina.web.browser_safety import allow_reading_from_any_site
from vetrina.web.deps import RowId, db_session, get_context, optional_user, public_base_url, territory

router = APIRouter(include_in_schema=False)
# Crawlers' reads: a few minutes' staleness is fine and spares the database.
CRAWLER_CACHE = f"public, max-age={sitemap.CACHE_S}"


def _shared_cache_headers(request: Request, cache_control: str) -> dict[str, str]:
    """`cache_control`, plus `Vary: Host` when the answer's URLs come from the Host header (no VETRINA_BASE_URL)."""
    headers = {"Cache-Control": cache_control}
    if not get_context(request).settings.base_url:
        # A shared cache keying on the path alone would hand one asker's Host to everyone.
        headers["Vary"] = "Host"
    return headers


def _scripts(items: list[dict[str, Any]]) -> list[Markup]:
    return [Markup(structured.script_json(item)) for item in items]  # noqa: S704  ("<" is escaped by script_json)


def watch_page_extras(request: Request, session: Session, video: Video) -> dict[str, Any]:
    """What a watch page's <head> carries for search engines and oEmbed consumers (`_discovery_head.html`)."""
    base = public_base_url(request)
    extras: dict[str, Any] = {"json_ld": _scripts(structured.video_objects(get_context(request), session, video, base))}
    if video.published and video.status == "ready":
        page = links.watch_url(base, video.id)
        extras["oembed_links"] = {"json": links.oembed_url(base, page), "xml": links.oembed_url(base, page, "xml")}
    return extras


def live_page_extras(request: Request, session: Session, show: LiveShow) -> dict[str, Any]:
    base = public_base_url(request)
    return {"json_ld": _scripts(structured.live_show_objects(get_context(request), session, show, base))}


def product_json_ld(request: Request, product: Product) -> list[Markup]:
    return _scripts([structured.product_object(get_context(request), product, public_base_url(request))])


@router.get("/robots.txt", response_class=PlainTextResponse)
def robots(request: Request) -> Response:
    body = sitemap.robots_txt(public_base_url(request))
    return PlainTextResponse(body, headers=_shared_cache_headers(request, CRAWLER_CACHE))


@router.get(links.VIDEO_SITEMAP_PATH)
def video_sitemap(
    request: Request,
    page: Annotated[int | None, Query(ge=1, le=100_000, description="A page of the sitemap index")] = None,
    session: Session = db_session,
) -> Response:
    """The video sitemap; past 50,000 titles, without `page` it is the index of its pages."""
    body = sitemap.sitemap_page(get_context(request), session, page, public_base_url(request))
    return Response(body, media_type="application/xml", headers=_shared_cache_headers(request, CRAWLER_CACHE))


@router.get(links.OEMBED_PATH)
def oembed(
    request: Request,
    url: Annotated[str, Query(min_length=1, max_length=oembeds.MAX_URL_LENGTH, description="A watch page's URL")],
    _any_site: None = Depends(allow_reading_from_any_site),
    format: Literal["json", "xml"] = "json",
    maxwidth: Annotated[int | None, Query(ge=1, le=oembeds.MAX_DIMENSION)] = None,
    maxheight: Annotated[int | None, Query(ge=1, le=oembeds.MAX_DIMENSION)] = None,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> Response:
    """oEmbed for a watch page (as the asking server's territory sees it: a title not licensed there is a 404);
    any site's script may read it, its problems too."""
    base = public_base_url(request)
    # Ours: the configured public origin's host, and the host this request was sent to.
    ours = {urlsplit(base).netloc.lower(), request.url.netloc.lower()}
    answer, shared = oembeds.oembed(
        get_context(request),
        session,
        url=url,
        our_hosts=ours,
        base_url=base,
        territory=viewer_territory,
        max_width=maxwidth,
        max_height=maxheight,
    )
    headers = _shared_cache_headers(request, ("public" if shared else "private") + ", max-age=300")
    if format == "xml":
        return Response(oembeds.oembed_xml(answer), media_type="text/xml", headers=headers)
    body = json.dumps(answer, ensure_ascii=False)
    return Response(body, media_type="application/json", headers=headers)


@router.get(links.POSTER_PATH.replace("{id}", "{video_id}"))
def poster(
    request: Request,
    video_id: RowId,
    user: User | None = optional_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> Response:
    """A video's poster at an address that does not expire: a redirect to a fresh signed link (for crawlers,
    oEmbed consumers and the sitemap); the same answers as the watch page for videos one may not see."""
    ctx = get_context(request)
    video, _grant = rights.playable(ctx, session, video_id, user, viewer_territory)
    signed = media.video_media_urls(ctx, video, viewer_territory)["poster_url"]
    if signed is None:
        raise NotFound(_("This video has no poster yet."))
    response = RedirectResponse(absolute_url(public_base_url(request), signed), status_code=302)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
