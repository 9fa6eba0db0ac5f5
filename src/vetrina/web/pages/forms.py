"""What the HTML form routes share: the CSRF field, who is signed in, running an action, going back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.errors import NotAuthenticated, VetrinaError
from vetrina.i18n import _, localise
from vetrina.web.deps import CSRF_FIELD, get_context, require_csrf_form
from vetrina.web.uploads import saved_upload

CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
# What a form does once it is let in: domain calls in the form's own write transaction.
FormAction = Callable[[Context, Session, User], Any]
Target = TypeVar("Target")


def signed_in(user: User | None) -> User:
    if user is None:
        raise NotAuthenticated(_("Sign in first."))
    return user


def redirect_back(path: str, message: str = "") -> RedirectResponse:
    """Back to `path`, which shows `message`: put into its address already in the reader's language (the next page
    only prints what it is given)."""
    return RedirectResponse(path + (f"?msg={quote(localise(message))}" if message else ""), status_code=303)


def run_form_action(request: Request, action: Callable[[Session], object]) -> str | None:
    """Run a form's action in its own write transaction; the problem's text if it failed (nothing kept).

    The bare step, for the tag editor's routes (tags.py) until they move to `form_action`."""
    try:
        with get_context(request).db.session(write=True) as session:
            action(session)
    except VetrinaError as exc:
        return exc.detail
    return None


def form_action(
    request: Request,
    csrf_token: str,
    user: User | None,
    *,
    back: str,
    done: str | Callable[[Any], str],
    action: FormAction,
    who: Callable[[User | None], User] = signed_in,
    login_first: bool = False,
    done_at: str | None = None,
) -> Response:
    """A page form's POST: the CSRF token, then who may, then `action`, then back with what happened.

    A failed action keeps nothing and goes back to `back` with the problem's text; one that went well goes
    to `done_at` (else `back`) with `done` (or `done` of what the action returned). With `login_first`
    a signed-out visitor is sent to sign in and come back, instead of being refused."""
    require_csrf_form(request, csrf_token)
    if user is None and login_first:
        return RedirectResponse(f"/login?next={quote(back)}", status_code=303)
    user = who(user)
    ctx = get_context(request)
    try:
        with ctx.db.session(write=True) as session:
            result = action(ctx, session, user)
    except VetrinaError as exc:
        return redirect_back(back, exc.detail)
    return redirect_back(done_at or back, done(result) if callable(done) else done)


def image_upload(
    file: UploadFile | None,
    find: Callable[[Session, User], Target],
    store: Callable[[Context, Session, Target, User, Path], object],
) -> FormAction:
    """The action of an image form: find what the image is for, then hand `store` the saved file's path.

    Found first, so a form aimed at what is not the user's fails before its file is read."""

    def action(ctx: Context, session: Session, user: User) -> None:
        target = find(session, user)
        with saved_upload(ctx, file, ctx.settings.max_image_bytes) as path:
            store(ctx, session, target, user, path)

    return action
