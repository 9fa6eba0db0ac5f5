"""The one error hierarchy; the web layer maps it to RFC 9457 problem responses."""

from __future__ import annotations

from typing import Any

from vetrina.i18n import _


class VetrinaError(Exception):
    """A failure a caller can act on. `slug` names the problem type, `status` its HTTP status."""

    status = 400
    slug = "bad-request"
    title: str = _("Bad request")  # a Message: translated when shown
    # Set by whoever raises it when the failing transaction had written nothing yet: the refusal's own records
    # (an idempotency key's answer) may then be written in that same transaction instead of a second one.
    wrote_nothing = False

    def __init__(self, detail: str, **extra: Any) -> None:  # detail: a Message (`_`) to be shown translated
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(VetrinaError):
    status, slug, title = 422, "invalid-input", _("The input is not valid")


class CurrencyMismatch(InvalidInput):
    """Money of two currencies compared or combined; answered like any other invalid input (422)."""


class NotAuthenticated(VetrinaError):
    status, slug, title = 401, "not-authenticated", _("Sign-in required")


class Forbidden(VetrinaError):
    status, slug, title = 403, "forbidden", _("Not allowed")


class NotFound(VetrinaError):
    status, slug, title = 404, "not-found", _("Not found")


class Conflict(VetrinaError):
    status, slug, title = 409, "conflict", _("Conflict")


class PayloadTooLarge(VetrinaError):
    status, slug, title = 413, "payload-too-large", _("Upload too large")


class UnsupportedMedia(VetrinaError):
    status, slug, title = 415, "unsupported-media", _("Unsupported media")


class TooManyRequests(VetrinaError):
    """Come back later; `retry_after_s` in extra becomes the Retry-After header."""

    status, slug, title = 429, "too-many-requests", _("Too many requests")


class Busy(VetrinaError):
    """The server cannot take this work right now; `retry_after_s` in extra becomes the Retry-After header."""

    status, slug, title = 503, "busy", _("Busy")


class UnavailableHere(VetrinaError):
    """Not licensed for the viewer's territory now (RFC 7725's 451)."""

    status, slug, title = 451, "unavailable-in-territory", _("Not available in your territory")
