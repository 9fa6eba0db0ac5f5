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
from vetrina.i18n import Message, _, localise

log = logging.getLogger(__name__)
PROBLEM_TYPE_BASE = "https://vetrina.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_body(status: int, slug: str, title: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    """The document; `title` and `detail` in the request's language (the `type` stays the same in every one)."""
    title, detail = localise(title), localise(detail)
    body = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail, "instance": instance}
    return jsonable_encoder({**body, **extra})


def problem(status: int, slug: str, title: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body = problem_body(status, slug, title, detail, instance, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


# Titles of the statuses the framework itself answers with (no route matched, wrong method, ...).
STATUS_TITLES: dict[int, Message] = {
    400: _("Bad request"),
    401: _("Sign-in required"),
    403: _("Not allowed"),
    404: _("Not found"),
    405: _("Method not allowed"),
    406: _("Not acceptable"),
    413: _("Upload too large"),
    415: _("Unsupported media"),
    429: _("Too many requests"),
}

# Pydantic's checks, said in words a person reads in their own language; any other keeps pydantic's English.
_VALIDATION_MESSAGES: dict[str, Message] = {
    "missing": _("This is required."),
    "extra_forbidden": _("This field is not accepted here."),
    "string_type": _("Text is expected."),
    "string_too_short": _("At least {min_length} characters."),
    "string_too_long": _("At most {max_length} characters."),
    "string_pattern_mismatch": _("This is not in the expected form."),
    "int_type": _("A whole number is expected."),
    "int_parsing": _("A whole number is expected."),
    "int_from_float": _("A whole number is expected."),
    "float_type": _("A number is expected."),
    "float_parsing": _("A number is expected."),
    "bool_type": _("true or false is expected."),
    "bool_parsing": _("true or false is expected."),
    "greater_than": _("More than {gt} is expected."),
    "greater_than_equal": _("At least {ge} is expected."),
    "less_than": _("Less than {lt} is expected."),
    "less_than_equal": _("At most {le} is expected."),
    "too_long": _("At most {max_length} items."),
    "too_short": _("At least {min_length} items."),
    "literal_error": _("One of {expected} is expected."),
    "enum": _("One of {expected} is expected."),
    "json_invalid": _("The body is not valid JSON."),
    "model_attributes_type": _("An object is expected."),
    "dict_type": _("An object is expected."),
    "list_type": _("A list is expected."),
    "datetime_parsing": _("A date and time (ISO 8601) is expected."),
    "datetime_type": _("A date and time (ISO 8601) is expected."),
    "url_parsing": _("A web address is expected."),
}


def validation_message(error: Any) -> str:
    """One of pydantic's errors in the request's language; our own validators' Messages are translated too."""
    kind, context = error.get("type", ""), error.get("ctx") or {}
    raised = context.get("error")
    if isinstance(raised, Exception) and raised.args and isinstance(raised.args[0], Message):
        return localise(raised.args[0])
    known = _VALIDATION_MESSAGES.get(kind)
    if known is None:
        return str(error.get("msg", ""))
    try:
        return Message(known.msgid, {k: v for k, v in context.items() if isinstance(v, (str, int, float))}).localised()
    except Exception:  # a context pydantic shaped otherwise than expected: its own words
        return str(error.get("msg", ""))


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
        response = html_page(request, exc.status, localise(exc.title), localise(exc.detail))
    else:
        response = problem(exc.status, exc.slug, exc.title, exc.detail, request.url.path, **exc.extra)
    response.headers.update(retry_after(exc))
    return response


# What every problem document carries (RFC 9457 section 3.1); more members carry details, e.g. a 422's `errors`.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem document.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Names the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong with this request."},
        "instance": {"type": "string", "description": "The path the request was made to."},
        "errors": {
            "type": "array",
            "description": "A 422's fields that are not valid.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
# FastAPI documents its own 422 body for every operation with parameters; ours is a problem instead.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def problem_responses() -> dict[str, Any]:
    """The responses every operation may give besides its own: a problem for any 4xx or 5xx."""
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        "422": {"description": "The input is not valid.", "content": content},
        "4XX": {"description": "The request is refused: see the problem's type and detail.", "content": content},
        "5XX": {"description": "The server failed or is busy.", "content": content},
    }


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """`openapi` with the problem responses on every operation, replacing FastAPI's own 422."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, response in problem_responses().items():
                if status == "422" or status not in responses:
                    responses[status] = response
    return openapi


def install_problem_handlers(app: FastAPI, html_page: HtmlErrorPage) -> None:
    """Map errors to problem documents; a browser asking for a page gets `html_page` instead. The OpenAPI
    document says so for every operation."""
    build_openapi = app.openapi

    def openapi_with_problems() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(build_openapi())
        return app.openapi_schema

    app.openapi = openapi_with_problems  # type: ignore[method-assign]

    @app.exception_handler(VetrinaError)
    async def domain_error(request: Request, exc: VetrinaError) -> Response:
        return error_response(request, exc, html_page)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body", "message": validation_message(e)}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or localise(_("The request is not valid."))
        if wants_html(request):
            return html_page(request, 422, localise(_("The address or form is not valid")), detail)
        return problem(422, "invalid-input", _("The input is not valid"), detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        phrase = HTTPStatus(exc.status_code).phrase
        title = localise(STATUS_TITLES.get(exc.status_code, phrase))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else title
        if wants_html(request):
            return html_page(request, exc.status_code, title, localise(detail))
        slug = phrase.lower().replace(" ", "-")
        response = problem(exc.status_code, slug, title, detail, request.url.path)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_html(request):
            return html_page(
                request, 500, localise(_("Internal error")), localise(_("Something went wrong on our side."))
            )
        title, detail = _("Internal error"), _("Something went wrong on our side.")
        return problem(500, "internal-error", title, detail, request.url.path)
