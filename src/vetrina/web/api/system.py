"""Health, where the viewer is, and signed media delivery."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from vetrina import clock
from vetrina.errors import Forbidden, NotFound, UnavailableHere
from vetrina.storage import MEDIA_URL_PREFIX
from vetrina.web.deps import get_context, territory, viewer_territory

_MEDIA_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
# Published ladders never change (a new transcode gets a new directory), so caches may keep them
# for as long as the URL's signature lasts, up to a day.
_MAX_CACHE_S = 86400

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
def media_file(request: Request, token: str, key: str) -> FileResponse:
    store = get_context(request).store
    verified = store.verify(token, key, clock.now().timestamp())
    if verified is None:
        raise Forbidden("This media link is not valid or has expired.")
    remaining_s, bound_to = verified
    if bound_to and bound_to != viewer_territory(request):
        raise UnavailableHere(f"This link plays only in {bound_to}.", territory=viewer_territory(request))
    path = store.path(key)
    if not path.is_file():
        raise NotFound("There is no such media file.")
    suffix = path.suffix.lower()
    media_type = _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    max_age = min(remaining_s, _MAX_CACHE_S)
    return FileResponse(
        path,
        media_type=media_type,
        headers={
            "Cache-Control": f"public, max-age={max_age}, immutable",
            "Access-Control-Allow-Origin": "*",
        },
    )
