"""Headers every browser answer gets: the Content-Security-Policy (who may frame the page among it), the CSRF
cookie a form was given, `Referrer-Policy` and `X-Content-Type-Options`. The one place they are built: later
features (widgets, SIMID creatives, live pages) add their sources to `POLICY` rather than setting headers of
their own.

Plain ASGI (it only adds headers to the response's start), not Starlette's `BaseHTTPMiddleware`, which runs
each request in a task of its own with streams between: a cost every request paid."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vetrina.settings import Settings
from vetrina.web.deps import COOKIE_SAMESITE, CSRF_COOKIE, cookie_secure

# No inline script anywhere: scripts come from this origin only.
POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "style-src-attr": ("'unsafe-inline'",),  # a channel's brand colours, as CSS variables on its page
    "img-src": ("'self'", "data:", "blob:", "http:", "https:"),  # third-party ads' images
    # hls.js plays from blob: URLs and gives its date-range metadata track an empty `data:,WEBVTT` source;
    # third-party ads' files come from anywhere.
    "media-src": ("'self'", "blob:", "data:", "http:", "https:"),
    "worker-src": ("'self'", "blob:"),  # hls.js's worker
    "connect-src": ("'self'", "http:", "https:"),  # playlists and segments; third-party ads' tracking
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
}


# Pages any site may frame: the embedded player, and the overlay ad's SIMID creative (other sites' players show it).
FRAMED_BY_ANY_SITE = ("/embed/", "/simid/")


def content_security_policy(path: str, frame_ancestors: str | None = None) -> str:
    """The policy of the answer to `path`: only the embed page and SIMID creatives may be framed by other sites;
    every other page (forms!) refuses framing. `frame_ancestors`: the one site a route allows instead
    (`allow_framing_by`)."""
    framing = frame_ancestors or ("*" if path.startswith(FRAMED_BY_ANY_SITE) else "'self'")
    directives = [f"{name} {' '.join(sources)}" for name, sources in POLICY.items()]
    return "; ".join([*directives, f"frame-ancestors {framing}"])


def allow_framing_by(request: Request, origin: str) -> None:
    """Let only `origin` frame this answer (the browser enforces it): for the player that sells inside a frame."""
    request.state.frame_ancestors = origin


def allow_reading_from_any_site(request: Request) -> None:
    """Let any site's script read this answer, its problems too (`Access-Control-Allow-Origin: *`, never with
    credentials): for public lists that other sites' pages ask for, such as the shoppable widget's."""
    request.state.any_site_may_read = True


class BrowserSafety:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                state = scope.get("state", {})
                policy = content_security_policy(scope["path"], state.get("frame_ancestors"))
                headers.setdefault("Content-Security-Policy", policy)
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if state.get("any_site_may_read"):
                    headers.setdefault("Access-Control-Allow-Origin", "*")
                # Set by `deps.csrf_token` (request.state lives in the scope) when a form got a new token.
                token = state.get("new_csrf_token")
                if token:
                    headers.append("set-cookie", self._csrf_cookie(token, cookie_secure(Request(scope))))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _csrf_cookie(self, token: str, secure: bool) -> str:
        cookie = Response()  # Starlette's own cookie formatting
        cookie.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite=COOKIE_SAMESITE,
            secure=secure,
        )
        return cookie.headers["set-cookie"]
