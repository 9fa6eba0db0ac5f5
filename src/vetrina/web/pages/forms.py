"""What the HTML form routes share: the CSRF field, who is signed in, running an action, going back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.errors import NotAuthenticated, VetrinaError
from vetrina.web.deps import CSRF_FIELD, get_context

CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


def signed_in(user: User | None) -> User:
    if user is None:
        raise NotAuthenticated("Sign in first.")
    return user


def redirect_back(path: str, message: str = "") -> RedirectResponse:
    return RedirectResponse(path + (f"?msg={quote(message)}" if message else ""), status_code=303)


def run_form_action(request: Request, action: Callable[[Session], object]) -> str | None:
    """Run a form's action in its own write transaction; the problem's text if it failed (nothing kept)."""
    try:
        with get_context(request).db.session(write=True) as session:
            action(session)
    except VetrinaError as exc:
        return exc.detail
    return None
