"""/api/v1/revenue-share: what a partner's licensed titles earned, per distributor and period (JSON or CSV)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.money import MoneyModel
from vetrina.partners import revenue
from vetrina.web.deps import db_session, get_context, required_user

router = APIRouter(prefix="/api/v1/revenue-share", tags=["rights"])


class RevenueRowOut(BaseModel):
    period: str
    video_id: int
    title: str
    licence_id: int
    distributor: str
    views: int
    watch_seconds: float
    ad_revenue: MoneyModel
    sales: MoneyModel
    share: MoneyModel = Field(description="The licensor's share of ad revenue and sales under the licence.")


class RevenueOut(BaseModel):
    rows: list[RevenueRowOut]
    unlicensed_items: int = Field(description="Plays, ads and orders where and when no licence covered the title.")
    other_currency_items: int = Field(description="Ads and orders in other currencies, left out of the sums.")


def revenue_out(report: revenue.Report) -> RevenueOut:
    rows = [
        RevenueRowOut(
            period=r.period,
            video_id=r.video_id,
            title=r.title,
            licence_id=r.licence_id,
            distributor=r.distributor,
            views=r.views,
            watch_seconds=r.watch_seconds,
            ad_revenue=MoneyModel.of(r.ad_revenue),
            sales=MoneyModel.of(r.sales),
            share=MoneyModel.of(r.share),
        )
        for r in report.rows
    ]
    return RevenueOut(
        rows=rows, unlicensed_items=report.unlicensed_items, other_currency_items=report.other_currency_items
    )


@router.get("", response_model=RevenueOut, summary="What your licensed titles earned, per distributor")
def revenue_share(
    request: Request,
    start: date | None = None,
    end: date | None = None,
    by: Literal["day", "month"] = "month",
    format: Literal["json", "csv"] = "json",  # noqa: A002  (the query parameter's name)
    user: User = required_user,
    session: Session = db_session,
) -> Response:
    currency = get_context(request).settings.default_currency
    report = revenue.revenue_share(session, user, start, end, currency, by)
    if format == "csv":
        return Response(
            revenue.as_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="revenue-share.csv"'},
        )
    return Response(revenue_out(report).model_dump_json(), media_type="application/json")
