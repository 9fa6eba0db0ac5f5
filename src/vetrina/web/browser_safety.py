"""Headers every browser answer gets: the CSRF cookie a form was given, and who may frame the page.

Plain ASGI (it only adds headers to the response's start), not Starlette's `BaseHTTPMiddleware`, which runs
each request in a task of its own with streams between: a cost every request paid."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vetrina.settings import Settings
from vetrina.web.deps import CSRF_COOKIE, cookie_samesite, cookie_secure


class BrowserSafety:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Only the embed page may be framed by other sites; every other page (forms!) refuses framing.
        framing = "*" if scope["path"].startswith("/embed/") else "'self'"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", f"frame-ancestors {framing}")
                # Set by `deps.csrf_token` (request.state lives in the scope) when a form got a new token.
                token = scope.get("state", {}).get("new_csrf_token")
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
            samesite=cookie_samesite(self.settings),
            secure=secure,
        )
        return cookie.headers["set-cookie"]
