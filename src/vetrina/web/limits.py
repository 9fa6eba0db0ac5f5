"""Request limits: body sizes (small for JSON and forms, the upload limit for upload routes) and rate limits
(`vetrina.ratelimit`) on sign-in, sign-up, token creation, top-ups, event intake and uploads; answered as problems."""

from __future__ import annotations

import re

from anyio import to_thread
from fastapi import Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vetrina.accounts.models import User
from vetrina.i18n import _
from vetrina.ratelimit import hashed
from vetrina.web.deps import get_context
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
                _("Content too large"),
                _("The request body is larger than the {limit} byte limit.", limit=limit),
                scope["path"],
                max_bytes=limit,
            )
            await response(scope, receive, send)
            return
        await self.app(
            scope,
            receive_at_most(receive, limit, _("The request body is larger than the {limit} byte limit.", limit=limit)),
            send,
        )


def receive_at_most(receive: Receive, limit: int, too_large: str) -> Receive:
    """`receive`, stopping a body (one without a Content-Length, or one that lies) once it passes `limit` bytes:
    a 413 saying `too_large`."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            # An HTTPException passes through body parsing unchanged and reaches the problem handler.
            raise HTTPException(413, too_large)
        return message

    return limited_receive


def client_address(request: Request) -> str:
    """The client's address as `vetrina.geo` decides it (X-Forwarded-For believed from trusted proxies only)."""
    peer = request.client.host if request.client else ""
    return get_context(request).geo.client_address(peer, request.headers)


def _account_key(email: str) -> str:
    # As the sign-in looks the account up, so "A@x.org " and "a@x.org" are one account's guesses.
    return hashed(email.strip().lower())


def limit_sign_in(request: Request, email: str) -> None:
    """Count a sign-in attempt for the client's address and for the account, before the password is checked
    (each check costs an argon2 hash); 429 when the address has used up VETRINA_RATE_LIMITS["login_address"] or the
    account VETRINA_RATE_LIMITS["login"]."""
    limits = get_context(request).rate_limits
    limits.hit("login_address", "address", client_address(request))
    limits.hit("login", "account", _account_key(email))


def signed_in_well(request: Request, email: str) -> None:
    """The right password: the account's count starts again (the address's does not: one attacker, many
    accounts)."""
    get_context(request).rate_limits.reset("login", "account", _account_key(email))


def limit_sign_up(request: Request) -> None:
    """Count an account made from the client's address (VETRINA_RATE_LIMITS["signup"])."""
    get_context(request).rate_limits.hit("signup", "address", client_address(request))


def limit_token_creation(request: Request, user: User) -> None:
    """Count an API token made by `user` from a signed-in session, per user and per address
    (VETRINA_RATE_LIMITS["token"]); `vetrina tokens create`, the operator's command, is not counted."""
    limits = get_context(request).rate_limits
    limits.hit("token", "address", client_address(request))
    limits.hit("token", "user", str(user.id))


def limit_top_up(request: Request, user: User) -> None:
    """Count a top-up `user` starts, through the API or the wallet page (VETRINA_RATE_LIMITS["topup"])."""
    get_context(request).rate_limits.hit("topup", "user", str(user.id))


def limit_upload(request: Request, user: User) -> None:
    """Count an upload by `user` (VETRINA_RATE_LIMITS["upload"]); the daily quotas are `vetrina.web.uploads`'."""
    get_context(request).rate_limits.hit("upload", "user", str(user.id))


async def limit_events(request: Request) -> None:
    """Count a batch of player events from the client's address (VETRINA_RATE_LIMITS["events"]), on the event
    loop when the counts are in memory, in a worker thread when they are a Redis round trip away."""
    limits = get_context(request).rate_limits
    address = client_address(request)
    if limits.shared:
        await to_thread.run_sync(limits.hit, "events", "address", address)
    else:
        limits.hit("events", "address", address)
