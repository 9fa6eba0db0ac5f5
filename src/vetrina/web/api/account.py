"""/api/v1/tokens (your API tokens: make, list, revoke) and /api/v1/me (who you are, your language, password
change, sign out everywhere)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina.accounts import service as accounts
from vetrina.accounts import sign_ins
from vetrina.accounts.models import ApiToken, User
from vetrina.i18n import current_language, prefer
from vetrina.web.deps import (
    RowId,
    browser_session_user,
    clear_session_cookie,
    db_session,
    get_context,
    required_user,
    signed_in_session,
)
from vetrina.web.limits import limit_sign_in, limit_token_creation

router = APIRouter(tags=["accounts"])
# Writes open their transaction in the handler, not through `db_session` (see web/api/payouts.py).


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=accounts.MAX_TOKEN_NAME, description="A label to recognise it by.")
    expires_in_days: int | None = Field(
        None, ge=1, le=accounts.MAX_TOKEN_DAYS, description="Default: VETRINA_TOKEN_TTL_DAYS (90)."
    )


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = Field(description="To the minute; null if never used.")
    expired: bool


class NewTokenOut(TokenOut):
    token: str = Field(description="The bearer token: shown in this answer only, never again.")


class TokenList(BaseModel):
    items: list[TokenOut]


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(max_length=accounts.MAX_PASSWORD_LENGTH)
    new: str = Field(max_length=accounts.MAX_PASSWORD_LENGTH)


class MeOut(BaseModel):
    id: int
    email: str
    role: str
    language: Literal["en", "it", "zh"] | None = Field(description="Your chosen language; null: your browser's.")
    speaking: Literal["en", "it", "zh"] = Field(description="The language this answer was given in.")


class MeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Literal["en", "it", "zh"] | None = Field(
        description="Pages and messages in this language (en, it, zh); null: in your browser's (Accept-Language)."
    )


def me_out(user: User) -> MeOut:
    return MeOut(id=user.id, email=user.email, role=user.role, language=user.language, speaking=current_language())


class SessionsEnded(BaseModel):
    sessions_ended: int = Field(description="How many sign-in sessions were ended.")


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        expired=accounts.is_expired(token),
    )


@router.post("/api/v1/tokens", status_code=201, response_model=NewTokenOut, summary="Make an API token")
def create_token(request: Request, body: TokenIn, user: User = browser_session_user) -> NewTokenOut:
    """From a signed-in browser session only (with X-CSRF-Token), never with another token. The token is in this
    answer once; only its hash is kept."""
    limit_token_creation(request, user)
    ctx = get_context(request)
    days = body.expires_in_days or ctx.settings.token_ttl_days
    with ctx.db.session(write=True) as session:
        row, token = accounts.issue_api_token(session, user, body.name, days)
        return NewTokenOut(**token_out(row).model_dump(), token=token)


@router.get("/api/v1/tokens", response_model=TokenList, summary="Your API tokens (never their secrets)")
def list_tokens(request: Request, user: User = required_user, session: Session = db_session) -> TokenList:
    sign_ins.write_token_uses(get_context(request))  # this process's unwritten last-used stamps, first
    return TokenList(items=[token_out(t) for t in accounts.list_api_tokens(session, user)])


@router.delete("/api/v1/tokens/{token_id}", status_code=204, summary="Revoke one of your API tokens")
def revoke_token(request: Request, token_id: RowId, user: User = required_user) -> Response:
    """Another user's token is a 404, as an unknown one is."""
    with get_context(request).db.session(write=True) as session:
        accounts.revoke_api_token(get_context(request), session, user, token_id)
    return Response(status_code=204)


@router.get("/api/v1/me", response_model=MeOut, summary="Who you are, and your language")
def me(user: User = required_user) -> MeOut:
    return me_out(user)


@router.patch("/api/v1/me", response_model=MeOut, summary="Choose your language")
def change_me(request: Request, body: MeChange, user: User = required_user) -> MeOut:
    """Your language answers this request already, and every later one on any device."""
    with get_context(request).db.session(write=True) as session:
        changed = accounts.set_language(get_context(request), session, user, body.language)
        prefer(changed.language)
        return me_out(changed)


@router.post("/api/v1/me/password", response_model=SessionsEnded, summary="Change your password")
def change_password(request: Request, body: PasswordChange, user: User = required_user) -> SessionsEnded:
    """A wrong `current` is a 403. Every other sign-in session ends; the one this request came in stays signed in
    (with a bearer token, every session ends). API tokens stay until revoked. Each try counts as a sign-in's
    password guess (VETRINA_RATE_LIMITS["login"]), before the password is checked."""
    limit_sign_in(request, user.email)
    with get_context(request).db.session(write=True) as session:
        ended = accounts.change_password(
            get_context(request), session, user, body.current, body.new, signed_in_session(request)
        )
    return SessionsEnded(sessions_ended=ended)


@router.post("/api/v1/me/sessions/revoke", response_model=SessionsEnded, summary="Sign out everywhere")
def revoke_sessions(request: Request, user: User = required_user) -> Response:
    """Ends every sign-in session, this one too; API tokens stay until revoked."""
    with get_context(request).db.session(write=True) as session:
        ended = accounts.end_all_sessions(get_context(request), session, user)
    response = JSONResponse(SessionsEnded(sessions_ended=ended).model_dump())
    return clear_session_cookie(request, response)
