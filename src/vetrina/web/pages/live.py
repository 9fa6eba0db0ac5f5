"""A live show's page: the live HLS in the player while it streams, what it features, and its replay once it ended."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.errors import Forbidden
from vetrina.live import service as live
from vetrina.live.models import LiveShow
from vetrina.money import Money
from vetrina.web.api.live import show_out
from vetrina.web.api.products import product_out
from vetrina.web.deps import RowId, db_session, get_context, optional_user
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
        raise Forbidden("Only the show's host can host it.")
    return _page(request, session, show, user, hosting=True)


def _page(request: Request, session: Session, show: LiveShow, user: User | None, *, hosting: bool) -> Response:
    ctx = get_context(request)
    products = [product_out(product, ctx) for product in live.featured_products(session, show)]
    return render(
        request,
        "live.html",
        user=user,
        show=show_out(request, show),
        products=products,
        hosting=hosting,
        rtmp_url=ctx.settings.live_rtmp_url,
        video={"poster_url": None, "duration_s": 0},
        live=True,
        Money=Money,
    )
