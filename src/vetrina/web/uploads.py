"""Uploads: who may send one, decided from the headers before the body is read (`UploadGate`), with per-user
quotas; and taking an uploaded file off the request into the media store's scratch space, within the size limit."""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from anyio import to_thread
from fastapi import Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.catalog import channels
from vetrina.catalog import service as catalog
from vetrina.context import Context
from vetrina.errors import InvalidInput, NotAuthenticated, NotFound, PayloadTooLarge, TooManyRequests, VetrinaError
from vetrina.i18n import _, n_
from vetrina.media import service as media
from vetrina.media import subtitles
from vetrina.media.models import Video
from vetrina.settings import Settings
from vetrina.studio import assets
from vetrina.web.deps import MAX_ROW_ID, get_context, headers_user
from vetrina.web.limits import limit_upload, receive_at_most
from vetrina.web.problems import HtmlErrorPage, error_response

_CHUNK = 1024 * 1024
# Multipart framing and the other form fields ride in the same body as the file.
MULTIPART_OVERHEAD = 1024 * 1024


def add_uploaded_video(
    ctx: Context, session: Session, user: User, upload: UploadFile | None, title: str, description: str
) -> Video:
    """Take a video upload off the request and hand it to the media domain; nothing is left behind on error."""
    media.ensure_can_upload(user)
    upload, filename = chosen_upload(upload)
    # Asked again with the body in hand: a body without a Content-Length was only bounded while it streamed.
    allowed = check_upload_quotas(ctx, session, user, 0, video=True)
    with saved_upload(ctx, upload, min(ctx.settings.max_upload_bytes, allowed or 0)) as path:
        return media.create_video(
            ctx, session, user, title=title, description=description, upload=path, filename=filename
        )


def chosen_upload(upload: UploadFile | None) -> tuple[UploadFile, str]:
    """The upload and the name it was sent under; InvalidInput when no file was chosen."""
    if upload is None or not upload.filename:
        raise InvalidInput(_("Choose a file to upload."), field="file")
    return upload, upload.filename


@contextmanager
def saved_upload(ctx: Context, upload: UploadFile | None, limit: int) -> Iterator[Path]:
    """The upload copied into the store's volume (so it can be moved, not copied again), removed afterwards."""
    upload, _filename = chosen_upload(upload)
    target = ctx.store.scratch_dir(f"upload-{secrets.token_hex(8)}") / "source"
    try:
        written = 0
        with target.open("wb") as out:
            while chunk := upload.file.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise PayloadTooLarge(
                        _("The file is larger than the {limit} byte limit.", limit=limit), max_bytes=limit
                    )
                out.write(chunk)
        if written == 0:
            raise InvalidInput(_("The uploaded file is empty."), field="file")
        yield target
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


# Checks that `user` may upload to a route, given the route's path parameters; raise VetrinaError if not.
Authorize = Callable[[Session, User, Mapping[str, str]], object]
_DAY = timedelta(days=1)
# Seconds a client at its limit of videos in processing is asked to wait before trying again.
_PROCESSING_RETRY_S = 60


@dataclass(frozen=True)
class UploadRoute:
    """A route that takes an upload: its method, path (a regular expression; named groups go to `authorize`),
    largest body, and who may send one."""

    method: str
    path: str
    max_bytes: int
    authorize: Authorize
    # A video: counted against the bytes per day and the videos processing at once.
    video: bool = False
    # A page's form: a signed-out visitor is sent to sign in and come back, not answered 401.
    sign_in_first: bool = False


def _may_upload_videos(session: Session, user: User, params: Mapping[str, str]) -> None:
    media.ensure_can_upload(user)


def _may_sell(session: Session, user: User, params: Mapping[str, str]) -> None:
    catalog.ensure_can_sell(user)


def _may_change_product(session: Session, user: User, params: Mapping[str, str]) -> None:
    product_id = int(params["product_id"])
    if product_id > MAX_ROW_ID:
        raise NotFound(_("There is no product {product_id}.", product_id=product_id))
    catalog.product_for_change(session, product_id, user)


def _may_change_video(session: Session, user: User, params: Mapping[str, str]) -> None:
    video_id = int(params["video_id"])
    if video_id > MAX_ROW_ID:
        raise NotFound(_("There is no video {video_id}.", video_id=video_id))
    media.video_for_change(session, video_id, user)


def _may_change_channel(session: Session, user: User, params: Mapping[str, str]) -> None:
    channels.check_can_change(session, params["handle"][:64], user)


def upload_routes(settings: Settings) -> list[UploadRoute]:
    """Every route that takes a file, with the body limit of each."""
    video_max = settings.max_upload_bytes + MULTIPART_OVERHEAD
    image_max = settings.max_image_bytes + MULTIPART_OVERHEAD
    music_max = settings.max_music_bytes + MULTIPART_OVERHEAD
    return [
        UploadRoute("POST", r"/api/v1/videos/?", video_max, _may_upload_videos, video=True),
        UploadRoute("POST", r"/upload/?", video_max, _may_upload_videos, video=True, sign_in_first=True),
        UploadRoute("POST", r"/api/v1/products/(?P<product_id>\d{1,12})/images/?", image_max, _may_change_product),
        UploadRoute("POST", r"/merchant/products/(?P<product_id>\d{1,12})/images/?", image_max, _may_change_product),
        UploadRoute("POST", r"/api/v1/studio/images/?", image_max, _may_sell),
        UploadRoute("POST", r"/api/v1/studio/music/?", music_max, _may_sell),
        UploadRoute("POST", r"/api/v1/channels/(?P<handle>[^/]+)/banner/?", image_max, _may_change_channel),
        UploadRoute("POST", r"/merchant/channel/banner/?", image_max, _may_sell),
        UploadRoute(
            "POST",
            r"/api/v1/videos/(?P<video_id>\d{1,12})/subtitles/?",
            settings.subtitle_max_bytes + MULTIPART_OVERHEAD,
            _may_change_video,
        ),
    ]


def _retry_after(oldest: datetime | None, now: datetime) -> int:
    # When the oldest upload counted leaves the 24 hours, one more is allowed.
    return max(1, int(((oldest or now) + _DAY - now).total_seconds()) + 1)


def check_upload_quotas(ctx: Context, session: Session, user: User, incoming: int, video: bool) -> int | None:
    """Refuse an upload over `user`'s quotas: uploads in the last 24 hours (videos, product and studio images, music,
    subtitles; 429), and for a video the bytes of video in the last 24 hours with the `incoming` ones of the file
    (413) and the videos processing at once (429). Counted from the database and the store, so every process sees
    the same counts. For a video, the bytes of video still allowed."""
    settings = ctx.settings
    now = clock.now()
    since = now - _DAY
    videos, oldest_video, stored = media.videos_since(ctx, session, user.id, since)
    images, oldest_image = catalog.images_added_since(session, user.id, since)
    library, oldest_asset = assets.assets_added_since(session, user.id, since)
    captions, oldest_caption = subtitles.subtitles_uploaded_since(session, user.id, since)
    uploads = videos + images + library + captions
    if uploads >= settings.uploads_per_day:
        oldests = (oldest_video, oldest_image, oldest_asset, oldest_caption)
        oldest = min((t for t in oldests if t is not None), default=None)
        raise TooManyRequests(
            n_(
                "You have uploaded {count} file in the last 24 hours, the most one account may "
                "(VETRINA_UPLOADS_PER_DAY = {limit}).",
                "You have uploaded {count} files in the last 24 hours, the most one account may "
                "(VETRINA_UPLOADS_PER_DAY = {limit}).",
                uploads,
                limit=settings.uploads_per_day,
            ),
            quota="uploads_per_day",
            retry_after_s=_retry_after(oldest, now),
        )
    if not video:
        return None
    allowed = settings.upload_bytes_per_day - stored
    if incoming > allowed or allowed <= 0:
        raise PayloadTooLarge(
            _(
                "This upload would take you over the {limit} bytes of video one account may upload in 24 hours; "
                "{left} bytes are left.",
                limit=settings.upload_bytes_per_day,
                left=max(allowed, 0),
            ),
            quota="upload_bytes_per_day",
            max_bytes=max(allowed, 0),
        )
    processing = media.processing_count(session, user.id)
    if processing >= settings.processing_per_user:
        raise TooManyRequests(
            n_(
                "You have {count} video processing, the most one account may at once; upload more once one is ready.",
                "You have {count} videos processing, the most one account may at once; upload more once one is ready.",
                processing,
            ),
            quota="processing_per_user",
            retry_after_s=_PROCESSING_RETRY_S,
        )
    return allowed


class UploadGate:
    """An upload's sender is identified and checked (who may, the rate limit, the quotas) from the headers alone,
    before a byte of the body is read: a refusal is answered at once and the connection closed, so an anonymous
    client or a bad token cannot make the server take in up to VETRINA_MAX_UPLOAD_BYTES first."""

    def __init__(self, app: ASGIApp, routes: list[UploadRoute], html_page: HtmlErrorPage) -> None:
        self.app = app
        self.routes = [(route, re.compile(route.path)) for route in routes]
        self.html_page = html_page

    def _match(self, scope: Scope) -> tuple[UploadRoute, dict[str, str]] | None:
        for route, pattern in self.routes:
            if scope["method"] == route.method and (found := pattern.fullmatch(scope["path"])):
                return route, found.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self._match(scope) if scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        route, params = matched
        request = Request(scope)
        try:
            # The checks read the database: in a worker thread, as the routes' own dependencies run.
            allowed = await to_thread.run_sync(self._admit, request, route, params)
        except VetrinaError as exc:
            await self._refuse(request, route, exc)(scope, receive, send)
            return
        if allowed is None:
            await self.app(scope, receive, send)
            return
        too_large = _("This upload goes over the {allowed} bytes of video left for today.", allowed=allowed)
        await self.app(scope, receive_at_most(receive, allowed + MULTIPART_OVERHEAD, too_large), send)

    @staticmethod
    def _admit(request: Request, route: UploadRoute, params: Mapping[str, str]) -> int | None:
        user = headers_user(request)
        if user is None:
            raise NotAuthenticated(_("Sign in, or send an API bearer token, before uploading."))
        ctx = get_context(request)
        declared = request.headers.get("content-length", "")
        # At least this much of the body is the file (the rest is multipart framing and the other fields).
        incoming = max(0, int(declared) - MULTIPART_OVERHEAD) if declared.isdigit() else 0
        with ctx.db.session() as session:
            route.authorize(session, user, params)
            allowed = check_upload_quotas(ctx, session, user, incoming, route.video)
        limit_upload(request, user)
        return allowed

    def _refuse(self, request: Request, route: UploadRoute, exc: VetrinaError) -> Response:
        if isinstance(exc, NotAuthenticated) and route.sign_in_first:
            response: Response = RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        else:
            response = error_response(request, exc, self.html_page)
        # The body is not wanted: the server closes the connection after the answer rather than read it all.
        response.headers["Connection"] = "close"
        return response
