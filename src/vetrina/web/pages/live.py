"""A live show's page: the live HLS in the player while it streams, what it features, and its replay once it ended."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.context import Context
from vetrina.errors import Forbidden
from vetrina.i18n import _
from vetrina.live import analytics as live_analytics
from vetrina.live import controls
from vetrina.live import service as live
from vetrina.live.models import LiveShow
from vetrina.money import Money
from vetrina.web.api.live import publish_after_commit, show_out
from vetrina.web.api.products import product_out
from vetrina.web.deps import RowId, db_session, get_context, optional_user
from vetrina.web.pages.discovery import live_page_extras
from vetrina.web.pages.forms import CsrfField, form_action
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/live/{show_id}", response_class=HTMLResponse)
def live_show(
    request: Request, show_id: RowId, user: User | None = optional_user, session: Session = db_session
) -> Response:
    return _page(request, session, live.get_show(session, show_id), user, hosting=False)


@router.get("/live/{show_id}/host", response_class=HTMLResponse)
def host_show(
    request: Request, show_id: RowId, user: User | None = optional_user, session: Session = db_session
) -> Response:
    """The host's page: the preview (the show as viewers get it), pins, chat moderation and the end of the show."""
    if user is None:
        return RedirectResponse(f"/login?next=/live/{show_id}/host", status_code=303)
    show = live.get_show(session, show_id)
    if show.host_id != user.id and not user.is_admin:
        raise Forbidden(_("Only the show's host can host it."))
    report = live_analytics.show_report(session, show.id, user)
    return _page(request, session, show, user, hosting=True, report=report)


def _page(
    request: Request,
    session: Session,
    show: LiveShow,
    user: User | None,
    *,
    hosting: bool,
    report: dict[str, Any] | None = None,
) -> Response:
    ctx = get_context(request)
    products = [product_out(product, ctx) for product in live.featured_products(session, show)]
    return render(
        request,
        "live.html",
        user=user,
        show=show_out(request, show, session),
        products=products,
        hosting=hosting,
        rtmp_url=ctx.settings.live_rtmp_url,
        video={"poster_url": None, "duration_s": 0},
        live=True,
        Money=Money,
        report=report,
        **live_page_extras(request, session, show),
    )


@router.post("/merchant/live/{show_id}/consent")
def merchant_live_consent(
    request: Request,
    show_id: RowId,
    accept: Annotated[Literal["yes", "no"], Form()],
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    """The merchant desk's answer to a partner's show featuring the merchant's products."""

    def decide(ctx: Context, session: Session, user: User) -> None:
        _consent, events = controls.decide_consent(session, show_id, user, accept == "yes")
        publish_after_commit(request, session, show_id, events)

    done = _("The show may sell your products.") if accept == "yes" else _("The show will not sell your products.")
    return form_action(request, csrf_token, user, back="/merchant", done=done, action=decide)
