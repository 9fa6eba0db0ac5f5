"""Which language each request is answered in: the signed-in user's choice (applied by `deps` once it knows
them), else the switcher's cookie, else the browser's Accept-Language, else the operator's default."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vetrina.i18n import from_accept_language, start_speaking, supported

LANGUAGE_COOKIE = "vetrina_language"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


class RequestLanguage:
    """Sets the request's language before anything else runs, and says which it was (Content-Language) and on
    what it depended (Vary), so a cache keeps one answer per language."""

    def __init__(self, app: ASGIApp, default_language: str) -> None:
        self.app, self.default = app, default_language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        chosen = supported(_cookie(headers.get("cookie", ""), LANGUAGE_COOKIE))
        speaking = start_speaking(chosen or from_accept_language(headers.get("accept-language"), self.default))

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = said_in(speaking.language, headers, speaking.translated)
            await send(message)

        await self.app(scope, receive, send_with_language)


# Answers written in the request's language; media, playlists and most JSON are the same in every language and
# keep their caches whole. JSON that showed a Message (a stored note or error) is written in it too; the timeline's
# cards set their own Vary.
_TRANSLATED_TYPES = (b"text/html", b"application/problem+json")


def said_in(language: str, headers: list[tuple[bytes, bytes]], translated: bool = False) -> list[tuple[bytes, bytes]]:
    """`headers` of an answer, with Content-Language and Vary on what chose the language if it is translated (by
    its type, or because it showed a Message: `translated`)."""
    content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    if not (translated or content_type.startswith(_TRANSLATED_TYPES)):
        return headers
    headers.append((b"content-language", language.encode()))
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            if b"accept-language" not in value.lower() and value.strip() != b"*":
                headers[index] = (name, value + b", Accept-Language, Cookie")
            return headers
    headers.append((b"vary", b"Accept-Language, Cookie"))
    return headers


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip()
    return None
