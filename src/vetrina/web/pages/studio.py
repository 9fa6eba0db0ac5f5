"""The studio page: a merchant picks products, photos, a template and copy, previews, and publishes a spot."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import Role, User
from vetrina.catalog import channels
from vetrina.catalog import service as catalog
from vetrina.errors import Forbidden
from vetrina.i18n import _
from vetrina.studio import assets
from vetrina.studio import service as studio
from vetrina.studio.models import AssetKind
from vetrina.studio.templates import ASPECTS, DURATIONS, TEMPLATES
from vetrina.studio.voice import tts_engine
from vetrina.web.api.products import product_out
from vetrina.web.api.studio import asset_out, spot_out
from vetrina.web.deps import get_context, optional_user, write_session
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/studio", response_class=HTMLResponse)
def studio_page(request: Request, user: User | None = optional_user, session: Session = write_session) -> Response:
    if user is None:
        return RedirectResponse("/login?next=/studio", status_code=303)
    if user.role not in (Role.merchant, Role.admin):
        raise Forbidden(_("The studio is for merchants."))
    ctx = get_context(request)
    products = catalog.list_products(session, 1, 100, merchant_id=user.id, viewer=user).items
    return render(
        request,
        "studio.html",
        user=user,
        channel=channels.channel_of(session, user),
        products=[product_out(p, ctx) for p in products],
        templates=list(TEMPLATES.values()),
        durations=DURATIONS,
        aspects=list(ASPECTS),
        speech=tts_engine() is not None,
        images=[asset_out(request, a) for a in assets.list_assets(session, user, AssetKind.image)],
        music=[asset_out(request, a) for a in assets.list_assets(session, user, AssetKind.music)],
        spots=[spot_out(session, s) for s in studio.list_spots(session, user, limit=20)],
    )
