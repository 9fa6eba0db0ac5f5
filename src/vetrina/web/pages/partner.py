"""The partner desk: feeds and their runs (with live progress), licences, and revenue share with a chart."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import Role, User
from vetrina.context import Context
from vetrina.errors import Forbidden
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.partners import revenue, runs
from vetrina.partners import service as partners
from vetrina.rights import service as rights
from vetrina.web import charts
from vetrina.web.deps import RowId, db_session, get_context, optional_user
from vetrina.web.pages.forms import CsrfField, form_action, signed_in
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)


def _partner(user: User | None) -> User:
    user = signed_in(user)
    if user.role not in (Role.partner, Role.merchant, Role.admin):
        raise Forbidden(_("The partner desk is for content partners."))
    return user


@router.get("/partner", response_class=HTMLResponse)
def partner_desk(
    request: Request, msg: str = "", user: User | None = optional_user, session: Session = db_session
) -> Response:
    if user is None:
        return RedirectResponse("/login?next=/partner", status_code=303)
    user = _partner(user)
    feeds = [
        (feed, next(iter(runs.list_runs(session, feed, limit=1)), None)) for feed in partners.list_feeds(session, user)
    ]
    report = revenue.revenue_share(session, user, None, None, get_context(request).settings.default_currency)
    return render(
        request,
        "partner.html",
        user=user,
        msg=msg,
        feeds=feeds,
        report=report,
        licences=rights.list_licences(session, user),
        chart=_chart(report),
    )


def _chart(report: revenue.Report) -> charts.Chart | None:
    """The partner's share per month, a line per distributor on a money axis; None before anything is earned."""
    by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in report.rows:
        by_month[row.period][row.distributor] += row.share.amount
    if not any(amount for shares in by_month.values() for amount in shares.values()):
        return None
    months = charts.months_between(min(by_month), max(by_month))
    distributors = sorted({d for shares in by_month.values() for d in shares})
    series = [
        charts.Series(name, [by_month[month].get(name, 0) for month in months], "money", tone=n % 4)
        for n, name in enumerate(distributors)
    ]
    labels, ticks = charts.month_labels(months)
    drawn = charts.Chart(_("Month"), series, {"left": _("Your share")}, report.currency, labels, ticks)
    totals = [sum(by_month[month].values()) for month in months]
    best = max(range(len(months)), key=lambda i: totals[i])
    drawn.summary = _(
        "Your share per month from {start} to {end}, by distributor. In all: {total}. Best month: {month}, {peak}.",
        start=labels[0],
        end=labels[-1],
        total=Money(sum(totals), report.currency).display(),
        month=labels[best],
        peak=Money(totals[best], report.currency).display(),
    )
    return drawn


@router.post("/partner/feeds")
def add_feed(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    url: Annotated[str, Form(max_length=2000)],
    rerun_hours: Annotated[float | None, Form(ge=1, le=24 * 90)] = None,
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    def add(ctx: Context, session: Session, user: User) -> None:
        feed = partners.create_feed(
            session,
            user,
            name=name,
            source=url,
            rerun_hours=rerun_hours,
            allow_private=ctx.settings.fetch_allow_private,
        )
        runs.start_run(ctx, session, feed, "api")

    return form_action(
        request,
        csrf_token,
        user,
        back="/partner",
        done=_("Feed added: its first import has started."),
        action=add,
        who=_partner,
    )


@router.post("/partner/feeds/{feed_id}/runs")
def run_feed(
    request: Request, feed_id: RowId, csrf_token: CsrfField = "", user: User | None = optional_user
) -> Response:
    def run(ctx: Context, session: Session, user: User) -> None:
        runs.start_run(ctx, session, partners.get_feed(session, feed_id, user), "api")

    return form_action(request, csrf_token, user, back="/partner", done=_("Import started."), action=run, who=_partner)
