"""Signing in from a page's script: POST /api/v1/session (the buy drawer on Vetrina's own pages), and
/api/v1/embed/session (inside the frame of a site allowed to sell in frames: a sign-in good only there)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina.accounts import service as accounts
from vetrina.accounts.models import User
from vetrina.catalog import embedding
from vetrina.errors import Forbidden, InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.media import service as media
from vetrina.text import web_origin
from vetrina.web.deps import (
    EMBED_ORIGIN_HEADER,
    FRAMED_COOKIE,
    MAX_ROW_ID,
    clear_framed_cookie,
    db_session,
    framed_csrf_token,
    framed_sign_in,
    get_context,
    require_csrf_header,
    required_user,
    set_session_cookie,
)
from vetrina.web.limits import limit_sign_in, signed_in_well

router = APIRouter(tags=["accounts"])


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=accounts.MAX_PASSWORD_LENGTH)


class FramedSignIn(SignIn):
    video_id: int = Field(ge=1, le=MAX_ROW_ID, description="The video the framed player shows.")


class SignedIn(BaseModel):
    id: int
    email: str


class FramedSignedIn(SignedIn):
    csrf_token: str = Field(description="Send it as X-CSRF-Token with the framed player's writes.")


@router.post("/api/v1/session", response_model=SignedIn, summary="Sign in from a page's script")
def sign_in(request: Request, body: SignIn, response: Response, session: Session = db_session) -> SignedIn:
    """Sign in without leaving the page (the buy drawer): sets the session cookie; needs X-CSRF-Token."""
    require_csrf_header(request)
    limit_sign_in(request, body.email)
    user = accounts.authenticate(session, body.email, body.password)
    signed_in_well(request, body.email)
    set_session_cookie(request, session, user, response)
    return SignedIn(id=user.id, email=user.email)


@router.post("/api/v1/embed/session", response_model=FramedSignedIn, summary="Sign in inside a selling frame")
def sign_in_framed(
    request: Request, body: FramedSignIn, response: Response, session: Session = db_session
) -> FramedSignedIn:
    """Sign in inside the frame of a site allowed to sell in frames (`X-Vetrina-Embed-Origin`, on the operator's
    or the video's merchant's list): the sign-in is good only in that site's frames, for buying."""
    if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
        raise Forbidden(_("Sign in from Vetrina's own player."))  # the custom header also keeps other sites' forms out
    origin = web_origin(request.headers.get(EMBED_ORIGIN_HEADER, ""), EMBED_ORIGIN_HEADER)
    try:
        video = media.get_video(session, body.video_id, None)
    except NotFound:
        raise InvalidInput(
            _("There is no video {video_id} to sign in to.", video_id=body.video_id), field="video_id"
        ) from None
    grant = embedding.sign_in_grant(get_context(request), session, origin, video.owner_id)
    if grant is None:
        raise Forbidden(
            _("{origin} may not sell inside its frames of this player: buy on Vetrina instead.", origin=origin)
        )
    limit_sign_in(request, body.email)
    user = accounts.authenticate(session, body.email, body.password)
    signed_in_well(request, body.email)
    token = set_session_cookie(request, session, user, response, framed=grant)
    return FramedSignedIn(id=user.id, email=user.email, csrf_token=framed_csrf_token(request, token))


@router.delete("/api/v1/embed/session", status_code=204, summary="Sign out inside a selling frame")
def sign_out_framed(request: Request, user: User = required_user, session: Session = db_session) -> Response:
    """End the sign-in made in this frame (like every framed write, it needs the frame's X-CSRF-Token)."""
    if framed_sign_in(request) is None:
        raise Forbidden(_("Only a sign-in made inside a frame ends here; sign out of Vetrina from its pages."))
    accounts.end_session(get_context(request), session, request.cookies[FRAMED_COOKIE])
    return clear_framed_cookie(Response(status_code=204))
