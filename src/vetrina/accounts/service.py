"""Sign-up, sign-in, sessions and API tokens. Passwords are argon2 hashes; tokens are stored as SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, Result, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import ApiToken, LoginSession, Role, User
from vetrina.context import Context, Topic
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from vetrina.i18n import LANGUAGES, _

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps sign-in time the same either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
SELF_SERVICE_ROLES = (Role.viewer, Role.merchant)
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
MAX_TOKEN_NAME = 100


def _changed(result: Result[Any]) -> int:
    """Rows a DELETE or UPDATE matched."""
    return cast(CursorResult[Any], result).rowcount or 0


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput(_("Enter a valid email address."), field="email")
    return email


def create_user(session: Session, email: str, password: str, role: Role | str = Role.viewer) -> User:
    """Create a user; raises Conflict if the email is taken."""
    email = normalise_email(email)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput(_("Unknown role {role}.", role=repr(role)), field="role") from None
    _check_new_password(password, "password")
    user = User(email=email, password_hash=_hasher.hash(password), role=role.value, created_at=clock.now())
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict(_("An account with this email already exists."), field="email") from None
    return user


def _check_new_password(password: str, field: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            _("Passwords are {min} to {max} characters long.", min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
            field=field,
        )


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def authenticate(session: Session, email: str, password: str) -> User:
    """The user whose email and password these are; NotAuthenticated otherwise (same answer for both)."""
    user = get_user_by_email(session, email) if len(password) <= MAX_PASSWORD_LENGTH else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise NotAuthenticated(_("Wrong email or password."))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def start_session(session: Session, user: User, lifetime: timedelta, framed: FramedSignIn | None = None) -> str:
    """Open a sign-in session; returns the cookie token (only its hash is stored). `framed`: made inside another
    site's frame of the player, and good only there (`framed_session`), never as a site-wide sign-in."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        LoginSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + lifetime,
            framed_origin=framed.origin if framed else None,
            framed_merchant_id=framed.merchant_id if framed else None,
        )
    )
    return token


@dataclass(frozen=True)
class FramedSignIn:
    """Where a sign-in made inside a frame may be used: in frames on `origin`, buying from the videos of
    `merchant_id` (of every merchant when None: the operator allowed the site)."""

    origin: str
    merchant_id: int | None


def framed_session(session: Session, token: str) -> tuple[User, FramedSignIn] | None:
    """The user of a sign-in session made in a frame, and where it may be used."""
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(token)))
    if row is None or row.expires_at <= clock.now() or row.framed_origin is None:
        return None
    user = session.get(User, row.user_id)
    return (user, FramedSignIn(row.framed_origin, row.framed_merchant_id)) if user is not None else None


def end_session(ctx: Context, session: Session, token: str) -> None:
    ended = session.scalars(
        delete(LoginSession).where(LoginSession.token_hash == token_hash(token)).returning(LoginSession.user_id)
    )
    for user_id in ended:
        _forget_sign_ins(ctx, session, user_id)


def _forget_sign_ins(ctx: Context, session: Session, user_id: int) -> None:
    """Every process stops honouring the user's remembered sign-ins once this change commits (accounts.sign_ins)."""
    ctx.caches.forget_after_commit(session, Topic.sign_ins, user_id)


def end_all_sessions(ctx: Context, session: Session, user: User, keep: str | None = None) -> int:
    """Sign `user` out everywhere, except the session whose cookie token is `keep`; how many sessions ended."""
    _forget_sign_ins(ctx, session, user.id)
    query = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep is not None:
        query = query.where(LoginSession.token_hash != token_hash(keep))
    return _changed(session.execute(query))


def change_password(
    ctx: Context, session: Session, user: User, current: str, new: str, keep_session: str | None
) -> int:
    """Set a new password once the current one is proven; every other sign-in session ends (API tokens stay).

    Forbidden (403) when `current` is wrong; returns how many sessions ended."""
    row = session.get_one(User, user.id)
    try:
        _hasher.verify(row.password_hash, current[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        raise Forbidden(_("The current password is not right."), field="current") from None
    _check_new_password(new, "new")
    row.password_hash = _hasher.hash(new)
    return end_all_sessions(ctx, session, row, keep=keep_session)


def issue_api_token(session: Session, user: User, name: str, days: int = DEFAULT_TOKEN_DAYS) -> tuple[ApiToken, str]:
    """Issue a bearer token that expires after `days`; returns its row and the token in clear, shown once (only
    its hash is stored)."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_TOKEN_NAME:
        raise InvalidInput(_("Name the token in 1 to {max} characters.", max=MAX_TOKEN_NAME), field="name")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidInput(_("Tokens last 1 to {max} days.", max=MAX_TOKEN_DAYS), field="expires_in_days")
    token = "vtr_" + secrets.token_urlsafe(32)
    now = clock.now()
    row = ApiToken(
        token_hash=token_hash(token),
        user_id=user.id,
        name=name,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    return row, token


def create_api_token(session: Session, user: User, name: str = "cli", days: int = DEFAULT_TOKEN_DAYS) -> str:
    """Issue a bearer token; returns it in clear once (only its hash is stored)."""
    return issue_api_token(session, user, name, days)[1]


def is_expired(token: ApiToken) -> bool:
    return token.expires_at <= clock.now()


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's own tokens, newest first, expired ones included (until revoked)."""
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def revoke_api_token(ctx: Context, session: Session, user: User, token_id: int) -> None:
    """Delete one of the user's tokens; another user's id is NotFound, as an unknown one is."""
    _forget_sign_ins(ctx, session, user.id)
    if not _changed(session.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))):
        raise NotFound(_("No such token."))


def set_language(ctx: Context, session: Session, user: User, language: str | None) -> User:
    """`user` reads pages and messages in `language` (one of vetrina.i18n.LANGUAGES), or None: in their browser's."""
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(_("Vetrina speaks {languages}.", languages=", ".join(sorted(LANGUAGES))), field="language")
    row = session.get(User, user.id)
    if row is None:
        raise NotFound(_("There is no such user."))
    row.language = language
    _forget_sign_ins(ctx, session, user.id)  # remembered sign-ins hold the old choice
    return row
