"""A live show's page: the live HLS in the player while it streams, what it features, and its replay once it ended."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.live import service as live
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
    show = live.get_show(session, show_id)
    ctx = get_context(request)
    products = [product_out(product, ctx) for product in live.featured_products(session, show)]
    return render(
        request,
        "live.html",
        user=user,
        show=show_out(request, show),
        products=products,
        video={"poster_url": None, "duration_s": 0},
        live=True,
        Money=Money,
    )
