"""/dashboard: each role's dashboard (merchant, video owner, operator) for a date range, with charts, and every
table as CSV at /dashboard/{board}/{table}.csv."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.analytics import dashboards
from vetrina.errors import Forbidden, NotFound
from vetrina.i18n import Message, _
from vetrina.money import Money
from vetrina.web import charts
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


def _board(
    request: Request, session: Session, user: User, board: str, start: date | None, end: date | None
) -> dashboards.Dashboard:
    if board not in BOARDS_OF[user.role]:
        raise Forbidden(_("The {board} dashboard is not for your account.", board=board))
    start, end = dashboards.period(start, end, clock.now().date())
    if board == "merchant":
        return dashboards.merchant(session, user, start, end)
    if board == "owner":
        return dashboards.owner(session, user, start, end)
    return dashboards.operator(get_context(request), session, start, end)


# Each board's totals, tables and columns for people (the data's keys stay as they are in the CSV downloads).
LABELS: dict[str, Message] = {
    "revenue": _("Revenue"),
    "orders": _("Orders"),
    "refunded_orders": _("Refunded orders"),
    "refunded": _("Refunded"),
    "conversion": _("Conversion"),
    "plays": _("Plays"),
    "viewers": _("Viewers"),
    "watch_minutes": _("Watch time"),
    "users": _("Users"),
    "videos": _("Videos"),
    "gmv": _("Gross merchandise value"),
    "queue_depth": _("Jobs waiting"),
    "funnel": _("Funnel"),
    "top_products": _("Top products"),
    "top_videos": _("Top videos"),
    "money": _("Money"),
    "jobs": _("Background jobs"),
    "step": _("Step"),
    "count": _("Count"),
    "product_id": _("Product"),
    "video_id": _("Video"),
    "title": _("Title"),
    "units": _("Units"),
    "sales": _("Sales"),
    "what": _("What"),
    "currency": _("Currency"),
    "amount": _("Amount"),
    "job": _("Job"),
    "runs": _("Runs"),
    "failed": _("Failed"),
    # The funnel's steps
    "card shown": _("Card shown"),
    "card clicked": _("Card clicked"),
    "buy started": _("Buy started"),
    "paid": _("Paid"),
    "confirmed": _("Confirmed"),
}
BOARD_NAMES: dict[str, Message] = {"merchant": _("Shop"), "owner": _("Videos"), "operator": _("Platform")}
MONEY_TOTALS = ("revenue", "refunded", "gmv")
MONEY_COLUMNS = ("sales", "amount")  # minor units in the tables: shown as money


def chart(board: Board, shown: dashboards.Dashboard, currency: str) -> charts.Chart:
    """The board's days: money as bars against the left axis, counts as lines, a second unit on the right."""
    if board == "merchant":
        days = shown.series["sales"]
        series = [
            charts.Series(LABELS["revenue"], [d["revenue"] for d in days], "money", style="bars"),
            charts.Series(LABELS["orders"], [d["orders"] for d in days], axis="right", tone=1),
        ]
        axes: dict[str, object] = {"left": LABELS["revenue"], "right": LABELS["orders"]}
    elif board == "owner":
        days = shown.series["audience"]
        series = [
            charts.Series(LABELS["plays"], [d["plays"] for d in days], style="bars"),
            charts.Series(LABELS["viewers"], [d["viewers"] for d in days], tone=2),
            charts.Series(LABELS["watch_minutes"], [d["watch_minutes"] for d in days], "minutes", "right", tone=1),
        ]
        axes = {"left": _("Plays and viewers"), "right": LABELS["watch_minutes"]}
    else:
        days = shown.series["gmv"]
        series = [
            charts.Series(LABELS["gmv"], [d["gmv"] for d in days], "money", style="bars"),
            charts.Series(LABELS["orders"], [d["orders"] for d in days], axis="right", tone=1),
        ]
        axes = {"left": LABELS["gmv"], "right": LABELS["orders"]}
    labels, ticks = charts.day_labels([d["day"] for d in days])
    drawn = charts.Chart(_("Day"), series, axes, currency, labels, ticks)
    drawn.summary = summary(drawn)
    return drawn


def summary(drawn: charts.Chart) -> Message | None:
    """The chart in one sentence (its canvas's label): the first series' total and its best day; None if empty."""
    first = drawn.series[0]
    if not any(first.values):
        return None
    best = max(range(len(first.values)), key=lambda i: first.values[i])
    return _(
        "{what} per day from {start} to {end}: {total} in all, at most {peak} on {day}.",
        what=first.label,
        start=drawn.labels[0],
        end=drawn.labels[-1],
        total=charts.shown(sum(first.values), first.unit, drawn.currency),
        peak=charts.shown(first.values[best], first.unit, drawn.currency),
        day=drawn.labels[best],
    )


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
        raise Forbidden(_("Dashboards are for merchants, partners and the operator."))
    board = board or available[0]
    shown = _board(request, session, user, board, start, end)
    currency = get_context(request).settings.default_currency
    return render(
        request,
        "dashboard.html",
        user=user,
        board=board,
        boards=available,
        data=shown,
        chart=chart(board, shown, currency),
        labels=LABELS,
        board_names=BOARD_NAMES,
        money_totals=MONEY_TOTALS,
        money_columns=MONEY_COLUMNS,
        Money=Money,
        currency=currency,
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
        raise NotFound(_('The {board} dashboard has no table "{table}".', board=board, table=table))
    return Response(
        dashboards.as_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{board}-{table}.csv"'},
    )
