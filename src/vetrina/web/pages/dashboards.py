"""/dashboard: each role's dashboard (merchant, video owner, operator) for a date range, with charts, and every
table as CSV at /dashboard/{board}/{table}.csv."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.analytics import dashboards
from vetrina.errors import Forbidden, NotFound
from vetrina.money import Money
from vetrina.web.deps import db_session, get_context, optional_user
from vetrina.web.pages.forms import signed_in
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)
Board = Literal["merchant", "owner", "operator"]
BOARDS_OF: dict[str, tuple[Board, ...]] = {  # keyed by User.role (a Role's value)
    Role.merchant: ("merchant", "owner"),
    Role.partner: ("owner",),
    Role.admin: ("operator", "owner"),
    Role.viewer: (),
}
CHARTED = {"merchant": ("sales", "revenue"), "owner": ("audience", "plays"), "operator": ("gmv", "gmv")}


def _board(
    request: Request, session: Session, user: User, board: str, start: date | None, end: date | None
) -> dashboards.Dashboard:
    if board not in BOARDS_OF[user.role]:
        raise Forbidden(f"The {board} dashboard is not for your account.")
    start, end = dashboards.period(start, end, clock.now().date())
    if board == "merchant":
        return dashboards.merchant(session, user, start, end)
    if board == "owner":
        return dashboards.owner(session, user, start, end)
    return dashboards.operator(get_context(request), session, start, end)


def bars(series: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """One bar per day of `series[key]`, scaled to a 600x150 SVG."""
    peak = max((d[key] for d in series), default=0)
    width = 600 / max(len(series), 1)
    return {
        "peak": peak,
        "bars": [
            {
                "x": round(i * width + 1, 1),
                "w": round(max(1.0, width - 2), 1),
                "h": round(140 * d[key] / (peak or 1), 1),
                "day": d["day"],
                "value": d[key],
            }
            for i, d in enumerate(series)
        ],
    }


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    board: Board | None = None,
    start: date | None = None,
    end: date | None = None,
    user: User | None = optional_user,
    session: Session = db_session,
) -> Response:
    if user is None:
        return RedirectResponse("/login?next=/dashboard", status_code=303)
    available = BOARDS_OF[user.role]
    if not available:
        raise Forbidden("Dashboards are for merchants, partners and the operator.")
    board = board or available[0]
    shown = _board(request, session, user, board, start, end)
    series, key = CHARTED[board]
    return render(
        request,
        "dashboard.html",
        user=user,
        board=board,
        boards=available,
        data=shown,
        chart=bars(shown.series[series], key),
        key=key,
        Money=Money,
        currency=get_context(request).settings.default_currency,
    )


@router.get("/dashboard/{board}/{table}.csv")
def dashboard_csv(
    request: Request,
    board: Board,
    table: str,
    start: date | None = None,
    end: date | None = None,
    user: User | None = optional_user,
    session: Session = db_session,
) -> Response:
    shown = _board(request, session, signed_in(user), board, start, end)
    rows = shown.tables.get(table) or shown.series.get(table)
    if rows is None:
        raise NotFound(f"The {board} dashboard has no table {table!r}.")
    return Response(
        dashboards.as_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{board}-{table}.csv"'},
    )
