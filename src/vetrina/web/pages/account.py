"""/account: your API tokens (make, list, revoke), your password, and signing out everywhere; /language: the
language switcher every page carries."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts import service as accounts
from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.errors import InvalidInput, VetrinaError
from vetrina.i18n import LANGUAGES, _, n_, prefer, supported
from vetrina.web.deps import (
    RowId,
    clear_session_cookie,
    cookie_secure,
    db_session,
    get_context,
    optional_user,
    refuse_bearer_token,
    require_csrf_form,
    signed_in_session,
)
from vetrina.web.language import LANGUAGE_COOKIE, LANGUAGE_COOKIE_MAX_AGE
from vetrina.web.limits import limit_sign_in, limit_token_creation
from vetrina.web.pages.forms import CsrfField, form_action, redirect_back, signed_in
from vetrina.web.pages.routes import safe_next
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)
BACK = "/account"


def _account_page(request: Request, session: Session, user: User, msg: str = "", new_token: str = "") -> Response:
    response = render(
        request,
        "account.html",
        user=user,
        msg=msg,
        tokens=accounts.list_api_tokens(session, user),
        is_expired=accounts.is_expired,
        new_token=new_token,
        default_days=get_context(request).settings.token_ttl_days,
        max_days=accounts.MAX_TOKEN_DAYS,
        min_password=accounts.MIN_PASSWORD_LENGTH,
    )
    # The page may show a new token's secret: never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request, msg: str = "", user: User | None = optional_user, session: Session = db_session
) -> Response:
    if user is None:
        return RedirectResponse("/login?next=" + quote(BACK), status_code=303)
    return _account_page(request, session, user, msg)


@router.post("/account/tokens", response_class=HTMLResponse)
def account_create_token(
    request: Request,
    name: Annotated[str, Form(max_length=accounts.MAX_TOKEN_NAME * 4)] = "",
    expires_in_days: Annotated[str, Form(max_length=10)] = "",
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    """Answers with the page itself, the new token on it once: a redirect would carry the secret in its URL."""
    require_csrf_form(request, csrf_token)
    refuse_bearer_token(request)
    owner = signed_in(user)
    limit_token_creation(request, owner)
    ctx = get_context(request)
    try:
        days = int(expires_in_days) if expires_in_days.strip() else ctx.settings.token_ttl_days
    except ValueError:
        return redirect_back(BACK, _("Give the token's lifetime as a number of days."))
    try:
        with ctx.db.session(write=True) as session:
            _made, token = accounts.issue_api_token(session, owner, name, days)
    except VetrinaError as exc:
        return redirect_back(BACK, exc.detail)
    with ctx.db.session() as session:
        return _account_page(request, session, owner, _("Token made: copy it now, it is not shown again."), token)


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke_token(
    request: Request, token_id: RowId, csrf_token: CsrfField = "", user: User | None = optional_user
) -> Response:
    return form_action(
        request,
        csrf_token,
        user,
        back=BACK,
        done=_("Token revoked."),
        action=lambda ctx, session, owner: accounts.revoke_api_token(ctx, session, owner, token_id),
    )


@router.post("/account/password")
def account_change_password(
    request: Request,
    current: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)] = "",
    new: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)] = "",
    repeat: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)] = "",
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    if user is not None:
        limit_sign_in(request, user.email)  # a password guess like a sign-in's, counted before it is checked

    def change(ctx: Context, session: Session, owner: User) -> int:
        if new != repeat:
            raise InvalidInput(_("The new password and its repetition differ."), field="repeat")
        return accounts.change_password(ctx, session, owner, current, new, signed_in_session(request))

    return form_action(
        request,
        csrf_token,
        user,
        back=BACK,
        done=lambda ended: n_(
            "Password changed; signed out of {count} other session.",
            "Password changed; signed out of {count} other sessions.",
            ended,
        ),
        action=change,
    )


@router.post("/account/sessions/revoke")
def account_sign_out_everywhere(
    request: Request, csrf_token: CsrfField = "", user: User | None = optional_user
) -> Response:
    response = form_action(
        request,
        csrf_token,
        user,
        back=BACK,
        done=_("Signed out everywhere."),
        done_at="/login",
        action=lambda ctx, session, owner: accounts.end_all_sessions(ctx, session, owner),
    )
    return clear_session_cookie(request, response)


@router.post("/language")
def choose_language(
    request: Request,
    language: Annotated[str, Form(max_length=35)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    """The switcher on every page: a cookie for this browser, and the signed-in user's own setting too."""
    require_csrf_form(request, csrf_token)
    chosen = supported(language)
    if chosen is None:
        raise InvalidInput(_("Vetrina speaks {languages}.", languages=", ".join(sorted(LANGUAGES))), field="language")
    if user is not None:
        ctx = get_context(request)
        with ctx.db.session(write=True) as session:
            accounts.set_language(ctx, session, user, chosen)
    prefer(chosen)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        chosen,
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )
    return response
