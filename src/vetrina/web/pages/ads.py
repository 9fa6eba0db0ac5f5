"""The video owner's ad breaks and floor price, as a form on the tag editor page (`/videos/{id}/tags`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.ads import serve as ad_serve
from vetrina.ads.models import VideoAdSettings
from vetrina.context import Context
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.media.models import Video
from vetrina.money import Money
from vetrina.web.deps import RowId, optional_user
from vetrina.web.pages.forms import CsrfField, form_action

router = APIRouter(include_in_schema=False)


def ad_breaks_form(session: Session, video: Video, currency: str) -> tuple[VideoAdSettings, str]:
    """The video's ad settings and its floor price as typed in the form in the reader's language ("4.50", "4,50")."""
    settings = ad_serve.ad_settings(session, video, currency)
    return settings, settings.floor.typed()


def _seconds_list(text: str, field: str) -> list[float]:
    try:
        values = [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(_("Write the seconds as numbers separated by commas."), field=field) from None
    return values


@router.post("/videos/{video_id}/ad-settings")
def save_ad_settings(
    request: Request,
    video_id: RowId,
    csrf_token: CsrfField = "",
    preroll: Annotated[bool, Form()] = False,
    midrolls: Annotated[str, Form(max_length=500)] = "",
    overlays: Annotated[str, Form(max_length=500)] = "",
    floor: Annotated[str, Form(max_length=20)] = "",
    snap: Annotated[bool, Form()] = False,
    user: User | None = optional_user,
) -> Response:
    """The owner's ad breaks, as the API's PUT /api/v1/videos/{id}/ad-settings sets them."""

    def save(ctx: Context, session: Session, user: User) -> None:
        currency = ctx.settings.default_currency
        price = Money.parse(floor, currency) if floor.strip() else Money.zero(currency)
        breaks = _seconds_list(midrolls, "midrolls"), _seconds_list(overlays, "overlays")
        ad_serve.set_ad_settings(ctx, session, video_id, user, preroll, *breaks, price, snap)

    back = f"/videos/{video_id}/tags"
    return form_action(request, csrf_token, user, back=back, done=_("Ad breaks saved."), action=save)
