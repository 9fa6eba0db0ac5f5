"""The merchant's campaigns: list, create, start/pause/end, and each one's report with a chart."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.ads import campaigns as ads
from vetrina.ads import reports
from vetrina.catalog import service as catalog
from vetrina.context import Context
from vetrina.errors import Forbidden, InvalidInput
from vetrina.i18n import _
from vetrina.media import service as media
from vetrina.money import MilliMoney, Money
from vetrina.web import charts
from vetrina.web.api.ads import campaign_out
from vetrina.web.deps import MAX_ROW_ID, RowId, db_session, get_context, optional_user
from vetrina.web.pages.forms import CsrfField, form_action, signed_in
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)


def _merchant(user: User | None) -> User:
    user = signed_in(user)
    if user.role not in (Role.merchant, Role.admin):
        raise Forbidden(_("Campaigns are for merchants."))
    return user


@router.get("/merchant/campaigns", response_class=HTMLResponse)
def campaigns_page(
    request: Request, msg: str = "", user: User | None = optional_user, session: Session = db_session
) -> Response:
    if user is None:
        return RedirectResponse("/login?next=/merchant/campaigns", status_code=303)
    user = _merchant(user)
    return render(
        request,
        "campaigns.html",
        user=user,
        msg=msg,
        Money=Money,
        campaigns=[campaign_out(c) for c in ads.list_campaigns(session, user)],
        videos=[v for v in media.list_videos(session, 1, 100, owner=user).items if v.status == "ready"],
        products=catalog.list_products(session, 1, 100, merchant_id=user.id, viewer=user).items,
        currency=get_context(request).settings.default_currency,
    )


@router.post("/merchant/campaigns")
def create_campaign(
    request: Request,
    name: Annotated[str, Form(max_length=120)],
    creative: Annotated[str, Form(max_length=40)],
    bid: Annotated[str, Form(max_length=20)],
    budget_total: Annotated[str, Form(max_length=20)],
    budget_daily: Annotated[str, Form(max_length=20)],
    days: Annotated[int, Form(ge=1, le=365)] = 30,
    cap: Annotated[int | None, Form(ge=1, le=1000)] = None,
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    """A campaign from the form: the creative is `video:ID` (linear, CPM) or `product:ID` (overlay, CPC)."""

    def create(ctx: Context, session: Session, user: User) -> None:
        kind_of, _colon, raw_id = creative.partition(":")
        if kind_of not in ("video", "product") or not raw_id.isdigit() or not 1 <= int(raw_id) <= MAX_ROW_ID:
            raise InvalidInput(_("Choose one of your videos or products."), field="creative")
        currency = ctx.settings.default_currency
        now = clock.now().replace(microsecond=0)
        spec = ads.CampaignSpec(
            name=name,
            kind="linear" if kind_of == "video" else "overlay",
            bid_model="cpm" if kind_of == "video" else "cpc",
            bid=Money.parse(bid, currency),
            budget_total=Money.parse(budget_total, currency),
            budget_daily=Money.parse(budget_daily, currency),
            starts_at=now,
            ends_at=now + timedelta(days=days),
            video_id=int(raw_id) if kind_of == "video" else None,
            product_id=int(raw_id) if kind_of == "product" else None,
            frequency_cap=(cap, 24) if cap else None,
        )
        ads.create_campaign(ctx, session, user, spec)

    return form_action(
        request,
        csrf_token,
        user,
        back="/merchant/campaigns",
        done=_("Campaign saved as a draft: start it when ready."),
        action=create,
        who=_merchant,
    )


# What the merchant reads once a campaign's status changed, one whole sentence each.
_STATUS_CHANGED = {"active": _("Campaign active."), "paused": _("Campaign paused."), "ended": _("Campaign ended.")}


@router.post("/merchant/campaigns/{campaign_id}/status")
def change_status(
    request: Request,
    campaign_id: RowId,
    status: Annotated[str, Form(max_length=16)],
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    return form_action(
        request,
        csrf_token,
        user,
        back="/merchant/campaigns",
        done=_STATUS_CHANGED.get(status) or _("Campaign {status}.", status=status),
        action=lambda ctx, s, merchant: ads.update_campaign(ctx, s, campaign_id, merchant, {"status": status}),
        who=_merchant,
    )


@router.get("/merchant/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request, campaign_id: RowId, user: User | None = optional_user, session: Session = db_session
) -> Response:
    user = _merchant(user)
    settings = get_context(request).settings
    campaign = ads.get_campaign(session, campaign_id, user)
    report = reports.campaign_report(session, campaign, settings.ads_click_window_days, settings.ads_view_window_days)
    return render(
        request,
        "campaign.html",
        user=user,
        campaign=campaign_out(campaign),
        report=report,
        Money=Money,
        chart=_chart(report["daily"], campaign.currency),
    )


def _chart(daily: list[dict[str, Any]], currency: str) -> charts.Chart | None:
    """Impressions and clicks a day as bars (clicks inside), the day's spend as a line on a money axis; every day
    from the first to the last, so a quiet day shows as nothing rather than vanishing."""
    if not daily:
        return None
    by_day = {d["day"]: d for d in daily}
    first, last = date.fromisoformat(daily[0]["day"]), date.fromisoformat(daily[-1]["day"])
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    rows = [by_day.get(day, {"impressions": 0, "clicks": 0, "spend_millis": 0}) for day in days]
    spent = [MilliMoney(row["spend_millis"], currency).rounded().amount for row in rows]
    series = [
        charts.Series(_("Impressions"), [row["impressions"] for row in rows], style="bars"),
        charts.Series(_("Clicks"), [row["clicks"] for row in rows], style="bars", tone=1),
        charts.Series(_("Spent"), spent, "money", "right", tone=2),
    ]
    labels, ticks = charts.day_labels(days)
    return charts.Chart(
        _("Day"), series, {"left": _("Impressions and clicks"), "right": _("Spent")}, currency, labels, ticks
    )
