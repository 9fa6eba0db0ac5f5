"""Who a bearer token or a sign-in cookie belongs to, remembered per process for `VETRINA_SIGN_IN_CACHE_S` seconds.

Every authenticated request asks; a checkout request spent a fifth of its CPU on that question's own transaction.
The answer is remembered by the token's hash (never the token), checked against its expiry on every use, and
forgotten at once, here and (through the change bus) in every other process, when the user's tokens or sessions
are revoked or their password changes. Without Redis another process may honour a revoked token for at most the
time-to-live (2 s by default; 0 turns remembering off)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ClassVar, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import make_transient_to_detached

from vetrina import clock
from vetrina.accounts.models import ApiToken, LoginSession, User
from vetrina.accounts.service import token_hash
from vetrina.context import Context, Topic
from vetrina.errors import Busy
from vetrina.settings import Settings

MAX_REMEMBERED = 50_000  # past this many sign-ins, the cache starts over rather than grow
# Tokens' last-used stamps are written together, at most this often (or once this many wait): one write
# transaction a second, not one per token, when a thousand buyers' first requests arrive at once.
USES_WRITTEN_EVERY_S = 1.0
MAX_UNWRITTEN_USES = 1000


@dataclass(frozen=True)
class SignedIn:
    """A user as their sign-in found them, and until when that sign-in holds."""

    user_id: int
    email: str
    password_hash: str
    role: str
    created_at: datetime
    language: str | None
    expires_at: datetime
    last_used_at: datetime | None
    read_at: float  # time.monotonic()

    @classmethod
    def of(cls, user: User, expires_at: datetime, last_used_at: datetime | None) -> SignedIn:
        return cls(
            user.id,
            user.email,
            user.password_hash,
            user.role,
            user.created_at,
            user.language,
            expires_at,
            last_used_at,
            time.monotonic(),
        )

    def user(self) -> User:
        """A detached User of its own for this request (never one shared between requests)."""
        user = User(
            id=self.user_id,
            email=self.email,
            password_hash=self.password_hash,
            role=self.role,
            created_at=self.created_at,
            language=self.language,
        )
        make_transient_to_detached(user)
        return user


class SignInCache:
    """Sign-ins by token hash; forgotten per user (`Topic.sign_ins`)."""

    topics: ClassVar[frozenset[Topic]] = frozenset({Topic.sign_ins})

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInCache:
        return cls(ttl_s=settings.sign_in_cache_s)

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: dict[str, SignedIn] = {}
        # Counts forgettings: a reader that saw an older count may have read a sign-in revoked since, so it must
        # not remember it (its read and the revocation's forget can interleave in either order).
        self._generation = 0
        self._unwritten_uses: dict[str, datetime] = {}  # token hash: when last used
        self._uses_written_at = time.monotonic()

    def generation(self) -> int:
        """Take before reading the database; hand to `put`."""
        with self._lock:
            return self._generation

    def get(self, key: str) -> SignedIn | None:
        with self._lock:
            hit = self._entries.get(key)
        if hit is None or time.monotonic() - hit.read_at >= self.ttl_s or hit.expires_at <= clock.now():
            return None
        return hit

    def put(self, key: str, entry: SignedIn, generation: int) -> None:
        """Remember `entry`, read after `generation()` answered `generation`, unless anything was forgotten since."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_REMEMBERED:
                self._entries.clear()
            self._entries[key] = entry

    def note_use(self, hashed: str, at: datetime) -> bool:
        """Note a token's use, to be written with others; True when the noted uses are due to be written."""
        with self._lock:
            self._unwritten_uses[hashed] = at
            return (
                len(self._unwritten_uses) >= MAX_UNWRITTEN_USES
                or time.monotonic() - self._uses_written_at >= USES_WRITTEN_EVERY_S
            )

    def take_uses(self) -> dict[str, datetime]:
        """The uses noted since the last take, handed over to be written."""
        with self._lock:
            taken, self._unwritten_uses = self._unwritten_uses, {}
            self._uses_written_at = time.monotonic()
        return taken

    def give_back_uses(self, uses: dict[str, datetime]) -> None:
        """Uses that could not be written: kept for the next write (a newer use of the same token wins)."""
        with self._lock:
            self._unwritten_uses = {**uses, **self._unwritten_uses}

    def forget(self, user_id: int | None) -> None:
        with self._lock:
            self._generation += 1
            if user_id is None:
                self._entries.clear()
            else:
                for key in [k for k, e in self._entries.items() if e.user_id == user_id]:
                    del self._entries[key]


def _fresh_use(found: SignedIn, now: datetime) -> bool:
    """A token's last use is written at most once a minute: within that minute, using it again writes nothing."""
    return found.last_used_at is not None and now - found.last_used_at <= timedelta(minutes=1)


def remembered_api_token_user(ctx: Context, token: str) -> User | None:
    """The owner of a bearer token when this process remembers it and using it writes nothing; None when only the
    database can say (`api_token_user`). Never blocks: the event loop may ask."""
    found = ctx.caches.get(SignInCache).get("token:" + token_hash(token))
    return found.user() if found is not None and _fresh_use(found, clock.now()) else None


def api_token_user(ctx: Context, token: str) -> User | None:
    """The owner of a valid bearer token, or None. Its last-used time is noted at most once a minute and written
    with other tokens' (`write_token_uses`), so that reads stay reads."""
    cache = ctx.caches.get(SignInCache)
    hashed = token_hash(token)
    key = "token:" + hashed
    generation = cache.generation()
    found = cache.get(key)
    remember = found is None
    if found is None:
        with ctx.db.session() as session:
            row = session.execute(
                select(User, ApiToken.expires_at, ApiToken.last_used_at)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.token_hash == hashed, ApiToken.expires_at > clock.now())
            ).first()
        if row is None:
            return None
        found = SignedIn.of(*row)
    now = clock.now()
    if not _fresh_use(found, now):
        found, remember = replace(found, last_used_at=now), True
        if cache.note_use(hashed, now):
            write_token_uses(ctx)
    if remember:
        cache.put(key, found, generation)
    return found.user()


_STAMP_USE = (
    update(cast(Table, ApiToken.__table__))
    .where(ApiToken.__table__.c.token_hash == bindparam("used_hash"))
    .values(last_used_at=bindparam("used_at"))
)


def write_token_uses(ctx: Context) -> None:
    """Write the tokens' last-used stamps noted since the last write, in one transaction. A busy database keeps
    them for the next write rather than fail the request that happened to be due to write them."""
    cache = ctx.caches.get(SignInCache)
    uses = cache.take_uses()
    if not uses:
        return
    try:
        with ctx.db.session(write=True) as session:
            session.execute(_STAMP_USE, [{"used_hash": hashed, "used_at": at} for hashed, at in uses.items()])
    except Busy:
        cache.give_back_uses(uses)


def remembered_session_user(ctx: Context, token: str) -> User | None:
    """The user of a sign-in cookie when this process remembers it; None when only the database can say
    (`session_user`). Never blocks."""
    found = ctx.caches.get(SignInCache).get("session:" + token_hash(token))
    return found.user() if found is not None else None


def session_user(ctx: Context, token: str) -> User | None:
    """The user of a site-wide sign-in session (a cookie; not one made in a frame), or None."""
    cache = ctx.caches.get(SignInCache)
    hashed = token_hash(token)
    key = "session:" + hashed
    generation = cache.generation()
    found = cache.get(key)
    if found is None:
        with ctx.db.session() as session:
            row = session.execute(
                select(User, LoginSession.expires_at)
                .join(LoginSession, LoginSession.user_id == User.id)
                .where(
                    LoginSession.token_hash == hashed,
                    LoginSession.expires_at > clock.now(),
                    LoginSession.framed_origin.is_(None),
                )
            ).first()
        if row is None:
            return None
        found = SignedIn.of(row[0], row[1], None)
        cache.put(key, found, generation)
    return found.user()
