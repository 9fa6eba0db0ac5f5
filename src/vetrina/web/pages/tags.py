"""The tag editor: a video's tags, its recognition runs and the proposals to accept (adjusted) or reject; its
owner also sets the video's ad breaks there (the form posts to `pages/ads.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.catalog import service as catalog
from vetrina.catalog.models import Product
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.media import service as media
from vetrina.shoppable import service as shoppable
from vetrina.shoppable.autotag import service as autotag
from vetrina.shoppable.models import AutotagRun
from vetrina.web.api.videos import video_out
from vetrina.web.deps import RowId, db_session, get_context, optional_user, require_csrf_form, viewer_territory
from vetrina.web.pages import ads as ad_pages
from vetrina.web.pages.forms import CsrfField, redirect_back, run_form_action, signed_in
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)
# A span's edge typed into the editor; empty keeps the proposal's.
Seconds = Annotated[float | None, Form(ge=0, le=7 * 24 * 3600, allow_inf_nan=False)]


@router.get("/videos/{video_id}/tags", response_class=HTMLResponse)
def tag_editor(
    request: Request, video_id: RowId, msg: str = "", user: User | None = optional_user, session: Session = db_session
) -> Response:
    if user is None:
        return RedirectResponse(f"/login?next=/videos/{video_id}/tags", status_code=303)
    video = media.get_video(session, video_id, user)
    proposals = autotag.list_proposals(session, video_id, user)
    tags = shoppable.list_tags(session, video_id, user)
    product_ids = {p.product_id for p in proposals} | {t.product_id for t in tags}
    visible = or_(Product.published.is_(True), Product.merchant_id == user.id)  # no titles of others' drafts
    titles = dict(session.execute(select(Product.id, Product.title).where(Product.id.in_(product_ids), visible)).all())
    last_run = session.scalar(
        select(AutotagRun)
        .where(AutotagRun.video_id == video.id, AutotagRun.requested_by == user.id)
        .order_by(AutotagRun.id.desc())
        .limit(1)
    )
    owner = user.id == video.owner_id or user.role == "admin"
    currency = get_context(request).settings.default_currency
    ad_form = ad_pages.ad_breaks_form(session, video, currency) if owner else None
    return render(
        request,
        "tag_editor.html",
        user=user,
        msg=msg,
        video=video_out(video, get_context(request), territory=viewer_territory(request)),
        titles=titles,
        proposals=[p for p in proposals if p.state == "proposed"],
        tags=tags,
        # The asker's own products, to tag by hand (the form posts to the tags API, which decides who may).
        products=catalog.list_products(session, 1, 200, merchant_id=user.id, viewer=user).items,
        run=last_run,
        ad_form=ad_form,
    )


@router.post("/videos/{video_id}/autotag")
def start_autotag(
    request: Request, video_id: RowId, csrf_token: CsrfField = "", user: User | None = optional_user
) -> Response:
    require_csrf_form(request, csrf_token)
    user = signed_in(user)
    ctx = get_context(request)
    failed = run_form_action(request, lambda session: autotag.start_run(ctx, session, video_id, user, None))
    return redirect_back(f"/videos/{video_id}/tags", failed or _("Looking for your products: proposals appear here."))


@router.post("/videos/{video_id}/tag-proposals/{proposal_id}/{decision}")
def decide(
    request: Request,
    video_id: RowId,
    proposal_id: RowId,
    decision: str,
    csrf_token: CsrfField = "",
    start_s: Seconds = None,
    end_s: Seconds = None,
    user: User | None = optional_user,
) -> Response:
    require_csrf_form(request, csrf_token)
    user = signed_in(user)

    def act(session: Session) -> None:
        if decision == "accept":
            changes = {k: v for k, v in (("start_s", start_s), ("end_s", end_s)) if v is not None}
            autotag.accept(get_context(request), session, video_id, proposal_id, user, changes)
        elif decision == "reject":
            autotag.reject(session, video_id, proposal_id, user)
        else:
            raise InvalidInput(_("Accept or reject."))

    failed = run_form_action(request, act)
    return redirect_back(
        f"/videos/{video_id}/tags", failed or (_("Tagged.") if decision == "accept" else _("Rejected."))
    )
