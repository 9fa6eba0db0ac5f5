"""Health, where the viewer is, and signed media delivery."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from vetrina import clock
from vetrina.context import Context
from vetrina.errors import Forbidden, NotFound, UnavailableHere
from vetrina.i18n import _
from vetrina.media import playlists, subtitles
from vetrina.media import service as media
from vetrina.media.ladder import MASTER_PLAYLIST
from vetrina.rights import service as rights
from vetrina.storage import MEDIA_URL_PREFIX, LocalStore, MediaStore, media_type
from vetrina.video_signals import playlist_signals
from vetrina.web.deps import get_context, public_base_url, territory, viewer_territory

# Published ladders never change (a new transcode gets a new directory), so caches may keep them
# for as long as the URL's signature lasts, up to a day.
_MAX_CACHE_S = 86400
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness, including a database round trip")
def healthz(request: Request) -> JSONResponse:
    try:
        get_context(request).db.ping()
    except Exception:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/api/v1/whereami", summary="The viewer's ISO 3166-1 territory, as Vetrina sees it")
def whereami(viewer_territory: str = territory) -> JSONResponse:
    # Each viewer gets their own answer: no shared cache may keep one.
    return JSONResponse({"territory": viewer_territory}, headers={"Cache-Control": "private, no-store"})


@router.api_route(MEDIA_URL_PREFIX + "/{token}/{key:path}", methods=["GET", "HEAD"], include_in_schema=False)
def media_file(request: Request, token: str, key: str) -> Response:
    ctx = get_context(request)
    store = ctx.store
    now_ts = clock.now().timestamp()
    verified = store.verify(token, key, now_ts)
    if verified is None:
        raise Forbidden(_("This media link is not valid or has expired."))
    remaining_s, bound_to = verified
    if bound_to and bound_to != viewer_territory(request):
        raise UnavailableHere(
            _("This link plays only in {territory}.", territory=bound_to), territory=viewer_territory(request)
        )
    content_type = media_type(key.rsplit("/", 1)[-1])
    if playlists.is_playlist(key):
        direct_until = int(now_ts) + remaining_s if _straight_from_store(ctx, key) else None
        return _playlist(request, ctx, key, content_type, remaining_s, direct_until, bound_to)
    headers = {
        "Cache-Control": f"public, max-age={min(remaining_s, _MAX_CACHE_S)}, immutable",
        "Access-Control-Allow-Origin": "*",
    }
    if isinstance(store, LocalStore):  # sendfile, ranges and validators from Starlette
        path = store.path(key)
        if not path.is_file():
            raise NotFound(_("There is no such media file."))
        return FileResponse(path, media_type=content_type, headers=headers)
    return _streamed(request, store, key, content_type, headers)


def _straight_from_store(ctx: Context, key: str) -> bool:
    """Whether a playlist's segments are fetched straight from the object store: with a store that can presign,
    no edge to serve them, and a title licensed nowhere in particular (a licensed one stays behind the token,
    which is bound to the viewer's territory)."""
    if not ctx.store.has_direct_urls or ctx.store.url_base or key.rsplit("/", 1)[-1] == MASTER_PLAYLIST:
        return False
    video_id = media.video_of_key(key)
    return video_id is not None and rights.plays_anywhere(ctx, video_id)


def _playlist(
    request: Request,
    ctx: Context,
    key: str,
    content_type: str,
    remaining_s: int,
    direct_until: int | None,
    bound_to: str,
) -> Response:
    """A playlist, rendered by Vetrina: an ETag and a short max-age (never past its link's expiry); a video's media
    playlist with its signals (program date time, product moments, ad breaks), its master with its subtitles, and
    its subtitle renditions' playlists (made, never stored), their links bound where the asking link is."""
    playlist = subtitles.rendition_playlist(ctx, key, bound_to) or playlists.rendered(ctx.store, key, direct_until)
    if playlist is None:
        raise NotFound(_("There is no such media file."))
    video_id = media.video_of_key(key)
    if key.rsplit("/", 1)[-1] == MASTER_PLAYLIST:
        playlist = subtitles.master_with_subtitles(ctx, key, playlist, bound_to)
    elif video_id is not None and not subtitles.is_rendition_playlist(key):
        playlist = playlists.with_signals(playlist, playlist_signals(ctx, video_id, public_base_url(request)))
    headers = {
        "Cache-Control": f"public, max-age={min(remaining_s, playlist.max_age_s)}",
        "ETag": playlist.etag,
        "Access-Control-Allow-Origin": "*",
    }
    if playlist.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else playlist.body
    return Response(body, headers={**headers, "Content-Length": str(len(playlist.body))}, media_type=content_type)


def _size(store: MediaStore, key: str) -> int:
    size = store.size(key)
    if size is None:
        raise NotFound(_("There is no such media file."))
    return size


def _streamed(request: Request, store: MediaStore, key: str, content_type: str, headers: dict[str, str]) -> Response:
    """A file of a remote store, passed through (one byte range at most, as players ask)."""
    wanted = _RANGE.fullmatch(request.headers.get("range", "").strip())
    if wanted and (wanted.group(1), wanted.group(2)) == ("", ""):
        wanted = None  # "bytes=-" names no range: the whole file
    first = int(wanted.group(1)) if wanted and wanted.group(1) else 0
    last = int(wanted.group(2)) if wanted and wanted.group(2) else None
    if last is not None and wanted and wanted.group(1) and last < first:
        wanted, first, last = None, 0, None  # an invalid range is ignored (RFC 9110): the whole file
    if wanted and not wanted.group(1) and last is not None:
        first, last = max(_size(store, key) - last, 0), None  # "bytes=-N": the last N bytes
    if request.method == "HEAD":  # the size alone, without opening the object
        size = _size(store, key)
        return Response(
            headers={**headers, "Accept-Ranges": "bytes", "Content-Length": str(size)}, media_type=content_type
        )
    stream = store.open_stream(key, first, last)
    if stream is None:
        raise NotFound(_("There is no such media file."))
    headers = {**headers, "Accept-Ranges": "bytes", "Content-Length": str(stream.length)}
    status = 200
    if wanted:
        if stream.length == 0:
            unsatisfiable = {"Content-Range": f"bytes */{stream.total}", "Access-Control-Allow-Origin": "*"}
            return Response(status_code=416, headers=unsatisfiable)
        status = 206
        headers["Content-Range"] = f"bytes {stream.first}-{stream.first + stream.length - 1}/{stream.total}"
    return StreamingResponse(stream.chunks, status_code=status, headers=headers, media_type=content_type)
