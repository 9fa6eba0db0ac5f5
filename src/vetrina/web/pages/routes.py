"""HTML pages: the video list, the watch page, sign-up, sign-in, sign-out and upload."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role, User
from vetrina.catalog import embedding
from vetrina.catalog import service as catalog
from vetrina.errors import InvalidInput, VetrinaError
from vetrina.i18n import _
from vetrina.live import service as live
from vetrina.live.models import ShowStatus
from vetrina.media import service as media
from vetrina.money import Money
from vetrina.rights import service as rights
from vetrina.text import web_origin
from vetrina.web.api.products import product_out
from vetrina.web.api.videos import video_out
from vetrina.web.browser_safety import allow_framing_by
from vetrina.web.deps import (
    CSRF_FIELD,
    SESSION_COOKIE,
    RowId,
    clear_session_cookie,
    db_session,
    framed_csrf_token,
    framed_viewer,
    get_context,
    optional_user,
    require_csrf_form,
    set_session_cookie,
    territory,
)
from vetrina.web.limits import limit_sign_in, limit_sign_up, signed_in_well
from vetrina.web.pages.discovery import watch_page_extras
from vetrina.web.problems import retry_after
from vetrina.web.templating import render
from vetrina.web.uploads import add_uploaded_video


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect to another origin."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _signed_in_redirect(request: Request, session: Session, user: User, target: str) -> Response:
    response = RedirectResponse(safe_next(target), status_code=303)
    set_session_cookie(request, session, user, response)
    return response


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    user: User | None = optional_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> Response:
    result = media.list_videos(session, page, 24, shown_if=rights.listable(viewer_territory, clock.now()))
    ctx = get_context(request)
    videos = [video_out(v, ctx, territory=viewer_territory) for v in result.items]
    products = [product_out(p, ctx) for p in catalog.list_products(session, 1, 12).items] if page == 1 else []
    shows = live.list_shows(session, ShowStatus.live, limit=12) if page == 1 else []
    return render(
        request, "home.html", user=user, videos=videos, page=result, products=products, shows=shows, Money=Money
    )


@router.get("/watch/{video_id}", response_class=HTMLResponse)
def watch(
    request: Request,
    video_id: RowId,
    user: User | None = optional_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> Response:
    ctx = get_context(request)
    found, grant = rights.playable(ctx, session, video_id, user, viewer_territory)
    video = video_out(found, ctx, territory=viewer_territory, grant=grant)
    extras = watch_page_extras(request, session, found)
    return render(request, "watch.html", user=user, video=video, **extras)


@router.get("/embed/{video_id}", response_class=HTMLResponse)
def embed(
    request: Request,
    video_id: RowId,
    origin: Annotated[str, Query(max_length=300, description="The framing site, when it may sell in frames")] = "",
    user: User | None = optional_user,
    session: Session = db_session,
    viewer_territory: str = territory,
) -> Response:
    """The player, cards and drawer alone, for an iframe on another site. Any site may frame it; buying inside
    the frame only when `origin` may sell in frames of this video's merchant, and then only that site may frame it."""
    ctx = get_context(request)
    found, grant = rights.playable(ctx, session, video_id, user, viewer_territory)
    video = video_out(found, ctx, territory=viewer_territory, grant=grant)
    host = _host_origin(origin)
    selling = host if host and embedding.sign_in_grant(ctx, session, host, found.owner_id) else None
    if selling is None:
        return render(request, "embed.html", user=user, video=video, embedded=True, host_origin=host)
    allow_framing_by(request, selling)
    buyer = framed_viewer(request, selling, found.owner_id)
    csrf = framed_csrf_token(request) if buyer else ""
    return render(
        request,
        "embed.html",
        user=buyer[0] if buyer else None,
        video=video,
        embedded=True,
        sell_in_frame=selling,
        host_origin=host,
        csrf_token=csrf,
    )


def _host_origin(origin: str) -> str | None:
    """`origin` written as browsers send it, or None if it names no web origin: the page framing the player, which
    its shopping events are posted to (docs/widget.md; only that origin's page receives them)."""
    if not origin:
        return None
    try:
        return web_origin(origin, "origin")
    except InvalidInput:
        return None  # a plain embed still plays: buying then goes on at Vetrina, and no events are posted


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", user: User | None = optional_user) -> Response:
    return render(request, "login.html", user=user, heading=_("Sign in"), action="/login", next=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    session: Session = db_session,
) -> Response:
    require_csrf_form(request, csrf_token)
    try:
        limit_sign_in(request, email)
        user = accounts.authenticate(session, email, password)
    except VetrinaError as exc:
        page = render(
            request,
            "login.html",
            status_code=exc.status,
            user=None,
            heading=_("Sign in"),
            action="/login",
            next=safe_next(next),
            error=exc.detail,
            email=email,
        )
        page.headers.update(retry_after(exc))
        return page
    signed_in_well(request, email)
    return _signed_in_redirect(request, session, user, next)


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: User | None = optional_user) -> Response:
    return render(request, "signup.html", user=user, heading=_("Create your account"), action="/signup")


@router.post("/signup")
def signup(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)],
    role: Annotated[str, Form(max_length=20)] = Role.viewer.value,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    session: Session = db_session,
) -> Response:
    require_csrf_form(request, csrf_token)
    try:
        if role not in accounts.SELF_SERVICE_ROLES:
            raise InvalidInput(_("Choose to watch or to sell."), field="role")
        limit_sign_up(request)
        user = accounts.create_user(session, email, password, role)
    except VetrinaError as exc:
        page = render(
            request,
            "signup.html",
            status_code=exc.status,
            user=None,
            heading=_("Create your account"),
            action="/signup",
            error=exc.detail,
            email=email,
            role=role,
        )
        page.headers.update(retry_after(exc))
        return page
    return _signed_in_redirect(request, session, user, "/")


@router.post("/logout")
def logout(
    request: Request,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    session: Session = db_session,
) -> Response:
    require_csrf_form(request, csrf_token)
    if cookie := request.cookies.get(SESSION_COOKIE):
        accounts.end_session(get_context(request), session, cookie)
    return clear_session_cookie(request, RedirectResponse("/", status_code=303))


def _upload_page(request: Request, user: User, status_code: int = 200, **extra: object) -> Response:
    settings = get_context(request).settings
    return render(
        request,
        "upload.html",
        status_code=status_code,
        user=user,
        heading=_("Upload a video"),
        action="/upload",
        multipart=True,
        max_mb=settings.max_upload_bytes // 1024**2,
        max_minutes=int(settings.max_duration_s // 60),
        **extra,
    )


@router.get("/upload", response_class=HTMLResponse)
def upload_form(request: Request, user: User | None = optional_user) -> Response:
    if user is None:
        return RedirectResponse("/login?next=" + quote("/upload"), status_code=303)
    media.ensure_can_upload(user)
    return _upload_page(request, user)


@router.post("/upload")
def upload(
    request: Request,
    title: Annotated[str, Form(max_length=media.MAX_TITLE * 4)] = "",
    description: Annotated[str, Form(max_length=media.MAX_DESCRIPTION * 4)] = "",
    file: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    user: User | None = optional_user,
    session: Session = db_session,
) -> Response:
    require_csrf_form(request, csrf_token)
    if user is None:
        return RedirectResponse("/login?next=" + quote("/upload"), status_code=303)
    media.ensure_can_upload(user)
    try:
        video = add_uploaded_video(get_context(request), session, user, file, title, description)
    except VetrinaError as exc:
        return _upload_page(
            request, user, status_code=exc.status, error=exc.detail, title=title, description=description
        )
    return RedirectResponse(f"/watch/{video.id}", status_code=303)
