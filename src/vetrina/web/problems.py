"""Every error leaves as an RFC 9457 problem document; this is the one place that mapping happens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from vetrina.errors import VetrinaError

log = logging.getLogger(__name__)
PROBLEM_TYPE_BASE = "https://vetrina.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_body(status: int, slug: str, title: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    body = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail, "instance": instance}
    return jsonable_encoder({**body, **extra})


def problem(status: int, slug: str, title: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body = problem_body(status, slug, title, detail, instance, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


HtmlErrorPage = Callable[[Request, int, str, str], Response]


def retry_after(exc: VetrinaError) -> dict[str, str]:
    """The Retry-After header a 429 or 503 carries (seconds), or none."""
    seconds = exc.extra.get("retry_after_s")
    return {"Retry-After": str(int(seconds))} if seconds is not None else {}


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_response(request: Request, exc: VetrinaError, html_page: HtmlErrorPage) -> Response:
    """`exc` as a problem document, or as `html_page` for a browser asking for a page."""
    if wants_html(request):
        response = html_page(request, exc.status, exc.title, exc.detail)
    else:
        response = problem(exc.status, exc.slug, exc.title, exc.detail, request.url.path, **exc.extra)
    response.headers.update(retry_after(exc))
    return response


def install_problem_handlers(app: FastAPI, html_page: HtmlErrorPage) -> None:
    """Map errors to problem documents; a browser asking for a page gets `html_page` instead."""

    @app.exception_handler(VetrinaError)
    async def domain_error(request: Request, exc: VetrinaError) -> Response:
        return error_response(request, exc, html_page)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body", "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "The request is not valid."
        if wants_html(request):
            return html_page(request, 422, "The address or form is not valid", detail)
        return problem(422, "invalid-input", "The input is not valid", detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) else phrase
        if wants_html(request):
            return html_page(request, exc.status_code, phrase, detail)
        slug = phrase.lower().replace(" ", "-")
        response = problem(exc.status_code, slug, phrase, detail, request.url.path)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_html(request):
            return html_page(request, 500, "Internal error", "Something went wrong on our side.")
        return problem(500, "internal-error", "Internal error", "Something went wrong on our side.", request.url.path)
