"""Request-scoped dependencies: the ctx, a database session, who is asking, where from, and CSRF checks."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from vetrina.accounts import service as accounts
from vetrina.accounts import sign_ins
from vetrina.accounts.models import User
from vetrina.catalog import embedding
from vetrina.context import Context
from vetrina.errors import Forbidden, NotAuthenticated
from vetrina.i18n import _, prefer

SESSION_COOKIE = "vetrina_session"
# The sign-in made inside an allowed site's frame of the player: SameSite=None (it must travel into that frame),
# Partitioned (kept apart per top-level site by browsers that know CHIPS), and honoured only by `_FRAMED_SCOPE`.
FRAMED_COOKIE = "__Host-vetrina_framed"  # __Host-: Secure, this host only, so no sibling domain can plant one
# A sign-in in a frame lasts a shopping visit, not the site-wide session's days.
FRAMED_SESSION_HOURS = 4
EMBED_ORIGIN_HEADER = "x-vetrina-embed-origin"
# What a sign-in made in a frame may do: order, pay (from the wallet or through a provider), follow a provider
# payment, and sign out there.
_FRAMED_SCOPE = {
    "POST": re.compile(r"/api/v1/(orders|orders/\d+/(pay|payments))"),
    "GET": re.compile(r"/api/v1/payments/\d+(/qr\.svg)?"),
    "DELETE": re.compile(r"/api/v1/embed/session"),
}
CSRF_COOKIE = "vetrina_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Row ids in paths: positive and within a 32-bit INTEGER column, so a huge number is a 4xx, not a 500.
MAX_ROW_ID = 2**31 - 1


def _digits_only(value: object) -> object:
    """A path's id as plain ASCII digits: pydantic alone would also read "+12", " 12", "12.0" and "1_2", which the
    middlewares' path patterns (the upload gate's sign-in and quota check, CSRF exemptions) do not match."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError(_("A whole number is expected."))
    return value


RowId = Annotated[int, BeforeValidator(_digits_only), Path(ge=1, le=MAX_ROW_ID)]


def get_context(request: Request) -> Context:
    return request.app.state.ctx


def admin_only(user: User, refusal: str) -> User:
    """`user` if an admin; 403 saying `refusal` ("Only admins settle payouts.", one whole sentence) otherwise."""
    if not user.is_admin:
        raise Forbidden(refusal)
    return user


def public_base_url(request: Request) -> str:
    """The origin for absolute URLs handed to others (ad servers, payment providers): VETRINA_BASE_URL if set."""
    return get_context(request).settings.base_url or str(request.base_url).rstrip("/")


def _open_session(request: Request) -> Iterator[Session]:
    with get_context(request).db.session(write=request.method not in _SAFE_METHODS) as session:
        yield session


# Commit before the response leaves, so a client never reads ahead of its own write.
db_session = Depends(_open_session, scope="function")


def _open_write_session(request: Request) -> Iterator[Session]:
    with get_context(request).db.session(write=True) as session:
        yield session


# For a GET that may write (a merchant's channel is made on first use): on SQLite a read transaction that then
# writes fails at once ("database is locked") if another writer committed since it began.
write_session = Depends(_open_write_session, scope="function")


def viewer_territory(request: Request) -> str:
    """The viewer's ISO 3166-1 alpha-2 territory (`vetrina.geo`), worked out once per request."""
    cached = getattr(request.state, "territory", None)
    if cached is None:
        peer = request.client.host if request.client else ""
        cached = get_context(request).geo.territory(peer, request.headers)
        request.state.territory = cached
    return cached


async def _territory(request: Request) -> str:
    return viewer_territory(request)  # on the event loop: an in-memory lookup needs no worker thread


territory = Depends(_territory)


def _bearer_token(request: Request) -> str | None:
    scheme, _space, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _current_user(request: Request) -> User | None:
    """The signed-in user: a bearer token for API clients, or the session cookie for pages.

    Answered on the event loop when memory can say (no sign-in at all, or one remembered by `accounts.sign_ins`):
    a worker thread for each sync dependency was an eighth of a checkout request's CPU. Anything else is asked of
    the database in a worker thread (`headers_user`)."""
    ctx = get_context(request)
    token = _bearer_token(request)
    if token is not None:
        user = sign_ins.remembered_api_token_user(ctx, token)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie is None and not _may_be_framed(request):
            return None
        user = sign_ins.remembered_session_user(ctx, cookie) if cookie else None
        if user is not None:
            return _spoken_to(_cookie_checked(request, user))
    return _spoken_to(user) if user is not None else await run_in_threadpool(headers_user, request)


def _spoken_to(user: User | None) -> User | None:
    """`user`, whose own language (if they chose one) answers this request."""
    if user is not None:
        prefer(user.language)
    return user


def headers_user(request: Request) -> User | None:
    """Who is asking, from the headers alone (the body is not read), asking the database when memory cannot say:
    for `_current_user`, and for checks that run before a route's.

    Looked up in a short session of its own, so the request's own unit of work (which may hold SQLite's write
    lock) is not opened before it is needed."""
    ctx = get_context(request)
    token = _bearer_token(request)
    if token is not None:
        user = sign_ins.api_token_user(ctx, token)
        if user is None:
            raise NotAuthenticated(_("The bearer token is not valid."))
        return _spoken_to(user)
    cookie = request.cookies.get(SESSION_COOKIE)
    cookie_user = sign_ins.session_user(ctx, cookie) if cookie else None
    if cookie_user is not None:
        return _spoken_to(_cookie_checked(request, cookie_user))
    return _spoken_to(_framed_user(request)) if _may_be_framed(request) else None


def _cookie_checked(request: Request, user: User) -> User:
    """Cookies ride along on cross-site requests; a cookie-authenticated write must prove it came from us."""
    if request.method not in _SAFE_METHODS and request.url.path.startswith("/api/"):
        require_csrf_header(request)
    return user


def _may_be_framed(request: Request) -> bool:
    """The request could carry a sign-in made in another site's frame: a call the player's drawer makes there,
    with the frame's cookie and the site's origin."""
    framed_scope = _FRAMED_SCOPE.get(request.method)
    return (
        framed_scope is not None
        and FRAMED_COOKIE in request.cookies
        and EMBED_ORIGIN_HEADER in request.headers
        and framed_scope.fullmatch(request.url.path) is not None
    )


def _framed_user(request: Request) -> User | None:
    """The buyer signed in inside an allowed site's frame of the player, for the calls the player's drawer makes
    there: only with the site's origin in X-Vetrina-Embed-Origin, and X-CSRF-Token for writes."""
    origin = request.headers.get(EMBED_ORIGIN_HEADER)
    found = framed_viewer(request, origin) if origin else None
    if found is None:
        return None
    if request.method not in _SAFE_METHODS:
        submitted = request.headers.get(CSRF_HEADER) or ""
        if not hmac.compare_digest(submitted.encode(), framed_csrf_token(request).encode()):
            raise Forbidden(_("This request needs the X-CSRF-Token header from the player that sent it."))
    user, grant = found
    request.state.framed_sign_in = grant
    return user


def framed_viewer(
    request: Request, origin: str, merchant_id: int | None = None
) -> tuple[User, accounts.FramedSignIn] | None:
    """Who signed in inside a frame on `origin` (the frame's cookie), while that site may still sell in frames;
    with `merchant_id`, only a sign-in that may buy from that merchant."""
    token = request.cookies.get(FRAMED_COOKIE)
    if not token:
        return None
    ctx = get_context(request)
    with ctx.db.session() as session:
        found = accounts.framed_session(session, token)
        if found is None or found[1].origin != origin or not embedding.still_allowed(ctx, session, found[1]):
            return None
    if merchant_id is not None and found[1].merchant_id not in (None, merchant_id):
        return None
    return found


def framed_sign_in(request: Request) -> accounts.FramedSignIn | None:
    """Where the request's sign-in may buy, when it was made inside another site's frame (after `_current_user`)."""
    return getattr(request.state, "framed_sign_in", None)


def framed_csrf_token(request: Request, token: str | None = None) -> str:
    """The CSRF token of a sign-in made in a frame (`token`, else the request's): derived from its session token,
    since a cookie to double-submit could not be set in another site's frame. Only the player there holds it."""
    token = token or request.cookies.get(FRAMED_COOKIE) or ""
    key = get_context(request).settings.signing_key
    return hmac.new(key, b"framed-csrf:" + token.encode(), hashlib.sha256).hexdigest()


optional_user = Depends(_current_user)


def signed_out(request: Request) -> bool:
    """The request carries no sign-in at all (no bearer token, no session cookie): it is anyone's, and its answer
    may be one every viewer gets."""
    return "authorization" not in request.headers and SESSION_COOKIE not in request.cookies


async def _require_user(user: User | None = optional_user) -> User:
    if user is None:
        raise NotAuthenticated(_("Sign in, or send an API bearer token."))
    return user


required_user = Depends(_require_user)


def came_over_https(request: Request) -> bool:
    """Did the browser reach us over HTTPS: directly, or through a trusted proxy that says so in
    X-Forwarded-Proto?"""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    if not get_context(request).geo.is_trusted_proxy(peer):
        return False
    # The first entry is what the proxy facing the browser saw; proxies behind it may append their own.
    forwarded = ",".join(request.headers.getlist("x-forwarded-proto")).split(",")[0]
    return forwarded.strip().lower() == "https"


def cookie_secure(request: Request) -> bool:
    """Cookies are Secure whenever the request came over HTTPS, and always with VETRINA_SECURE_COOKIES."""
    return get_context(request).settings.secure_cookies or came_over_https(request)


def set_session_cookie(
    request: Request, session: Session, user: User, response: Response, framed: accounts.FramedSignIn | None = None
) -> str:
    """Sign `user` in: a new session and its cookie on `response`; returns the session's token. `framed`: a sign-in
    inside that site's frame of the player, whose cookie must travel into a third-party frame (SameSite=None, so
    Secure, and Partitioned per top-level site where browsers know how)."""
    settings = get_context(request).settings
    lifetime = timedelta(days=settings.session_days) if framed is None else timedelta(hours=FRAMED_SESSION_HOURS)
    token = accounts.start_session(session, user, lifetime, framed)
    max_age = int(lifetime.total_seconds())
    if framed is None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=max_age,
            httponly=True,
            samesite=COOKIE_SAMESITE,
            secure=cookie_secure(request),
        )
    else:
        _set_framed_cookie(response, token, max_age)
    return token


def clear_session_cookie(request: Request, response: Response) -> Response:
    """Tell the browser to drop its session cookie (with the attributes it was set with)."""
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite=COOKIE_SAMESITE, secure=cookie_secure(request))
    return response


def clear_framed_cookie(response: Response) -> Response:
    _set_framed_cookie(response, "", 0)
    return response


def _set_framed_cookie(response: Response, value: str, max_age: int) -> None:
    formatted = Response()  # Starlette's own cookie formatting
    formatted.set_cookie(FRAMED_COOKIE, value, max_age=max_age, httponly=True, samesite="none", secure=True)
    # Python before 3.14 cannot write the Partitioned attribute (CHIPS), so it is appended here.
    response.headers.append("set-cookie", formatted.headers["set-cookie"] + "; Partitioned")


def signed_in_session(request: Request) -> str | None:
    """The cookie token of the sign-in session this request runs in; None when a bearer token authenticates it."""
    return None if _bearer_token(request) is not None else request.cookies.get(SESSION_COOKIE)


def refuse_bearer_token(request: Request) -> None:
    """For what only a signed-in browser may do: making API tokens (a leaked token that could mint more would
    outlive its own expiry)."""
    if _bearer_token(request) is not None:
        raise Forbidden(_("API tokens are made from a signed-in browser session (or `vetrina tokens create`)."))


async def _require_browser_session(request: Request, user: User = required_user) -> User:
    refuse_bearer_token(request)
    return user


browser_session_user = Depends(_require_browser_session)


# Lax: a site-wide session must never travel into another site's frame of the player, where a hostile page could
# lead a signed-in viewer into paying. Allowed sites' frames get a sign-in of their own (FRAMED_COOKIE).
COOKIE_SAMESITE: Literal["lax"] = "lax"


def csrf_token_for(request: Request) -> str:
    """The double-submit token for this browser: from its cookie, or a new one the response must set."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_token", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf_token = token
    return token


def _matches_cookie(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


def require_csrf_header(request: Request) -> None:
    if not _matches_cookie(request, request.headers.get(CSRF_HEADER)):
        raise Forbidden(_("This request needs the X-CSRF-Token header from the page that sent it."))


def require_csrf_form(request: Request, submitted: str | None) -> None:
    if not _matches_cookie(request, submitted):
        raise Forbidden(_("This form has expired or did not come from Vetrina; reload the page and try again."))
