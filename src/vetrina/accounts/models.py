"""Tables of the accounts domain."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, UTCDateTime


class Role(enum.StrEnum):
    viewer = "viewer"
    merchant = "merchant"
    partner = "partner"
    admin = "admin"


class User(Base):
    __tablename__ = "users"
    # Never reuse the id of a deleted row: ids appear in URLs, caches and other domains' rows.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The interface language they chose (a tag of vetrina.i18n.LANGUAGES); None: their browser's.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True, default=None)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


class LoginSession(Base):
    """A browser sign-in; the cookie holds the token, the table only its SHA-256."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A sign-in made inside another site's frame of the player: good only there (`framed_session`), for buying
    # from the videos of `framed_merchant_id` (every merchant's when the operator allowed the site).
    framed_origin: Mapped[str | None] = mapped_column(String(300), nullable=True)
    framed_merchant_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)


class ApiToken(Base):
    """A bearer token for the API; stored as its SHA-256, shown to its owner once, refused once expired."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
