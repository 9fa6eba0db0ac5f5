"""Which sites may frame a player that sells. Any site may frame the player; buying inside the frame is another
matter, since the framing page could lead a signed-in viewer into paying. It is allowed only on the origins the
operator lists (`VETRINA_EMBED_ORIGINS`, for every merchant) or the video's merchant lists in its channel settings
(for its own videos)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina.accounts.service import FramedSignIn
from vetrina.catalog.models import Channel
from vetrina.context import Context
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.text import web_origin

MAX_ORIGINS = 20


def check_origins(given: Sequence[str]) -> list[str]:
    """A channel's embedding origins, each checked and written as browsers send it, without repeats."""
    origins = list(dict.fromkeys(web_origin(origin, "embed_origins") for origin in given))
    if len(origins) > MAX_ORIGINS:
        raise InvalidInput(
            _("A channel lists at most {max} embedding origins.", max=MAX_ORIGINS), field="embed_origins"
        )
    return origins


def merchant_origins(session: Session, merchant_id: int) -> list[str]:
    return session.scalar(select(Channel.embed_origins).where(Channel.merchant_id == merchant_id)) or []


def sign_in_grant(ctx: Context, session: Session, origin: str, merchant_id: int) -> FramedSignIn | None:
    """Where a sign-in made in a frame on `origin` of `merchant_id`'s player may buy; None when that site may not
    frame buying. The operator's list gives every merchant's videos; the merchant's own list, its own."""
    if origin in ctx.settings.embed_origins:
        return FramedSignIn(origin, None)
    if origin in merchant_origins(session, merchant_id):
        return FramedSignIn(origin, merchant_id)
    return None


def still_allowed(ctx: Context, session: Session, grant: FramedSignIn) -> bool:
    """Is the site of a framed sign-in still on the list that allowed it (an origin removed ends its sign-ins)?"""
    if grant.merchant_id is None:
        return grant.origin in ctx.settings.embed_origins
    return grant.origin in ctx.settings.embed_origins or grant.origin in merchant_origins(session, grant.merchant_id)
