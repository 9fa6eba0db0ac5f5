"""Request body limits: small for JSON and forms, the upload limit for upload routes, answered as problems."""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vetrina.web.problems import problem


class BodySizeLimit:
    """Refuse bodies over the limit: at once from Content-Length, or while streaming when it is absent or lies."""

    def __init__(self, app: ASGIApp, default_max: int, route_max: list[tuple[str, str, int]]) -> None:
        self.app = app
        self.default_max = default_max
        # (method, path pattern, limit): the first match wins.
        self.route_max = [(method, re.compile(pattern), limit) for method, pattern, limit in route_max]

    def _limit_for(self, method: str, path: str) -> int:
        for route_method, pattern, limit in self.route_max:
            if method == route_method and pattern.fullmatch(path):
                return limit
        return self.default_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = problem(
                413,
                "content-too-large",
                "Content too large",
                f"The request body is larger than the {limit} byte limit.",
                scope["path"],
                max_bytes=limit,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException passes through body parsing unchanged and reaches the problem handler.
                raise HTTPException(413, f"The request body is larger than the {limit} byte limit.")
            return message

        await self.app(scope, limited_receive, send)
