"""/api/v1/licences: which distributor may show a title where, when and for what."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.db import after_commit
from vetrina.money import Money, MoneyModel
from vetrina.partners import revenue
from vetrina.rights import service as rights
from vetrina.rights.models import Licence
from vetrina.web.deps import MAX_ROW_ID, RowId, db_session, get_context, required_user

router = APIRouter(prefix="/api/v1/licences", tags=["rights"])


class LicenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    video_id: int = Field(ge=1, le=MAX_ROW_ID)
    distributor: str = Field(min_length=1, max_length=120)
    territories: list[Annotated[str, Field(max_length=40)]] | str = Field(
        description='ISO 3166-1 codes and group names ("Greater China", "European Union", ...), or "rest of world".'
    )
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    uses: list[Literal["stream", "ads", "commerce"]] = Field(["stream"], min_length=1, max_length=3)
    share_bps: int = Field(0, ge=0, le=10_000, description="The licensor's share of the title's revenue there.")


class LicenceOut(BaseModel):
    id: int
    video_id: int
    distributor: str
    territories: list[str] = Field(description="The ISO codes the licence covers (empty for the rest of the world).")
    rest_of_world: bool
    named_as: list[str]
    starts_at: datetime
    ends_at: datetime
    uses: list[str]
    share_bps: int
    created_at: datetime


def licence_out(licence: Licence) -> LicenceOut:
    return LicenceOut(
        id=licence.id,
        video_id=licence.video_id,
        distributor=licence.distributor,
        territories=licence.territories,
        rest_of_world=licence.rest_of_world,
        named_as=licence.named_as,
        starts_at=licence.starts_at,
        ends_at=licence.ends_at,
        uses=licence.uses,
        share_bps=licence.share_bps,
        created_at=licence.created_at,
    )


def _forget_after_commit(request: Request, session: Session, video_id: int) -> None:
    cache: rights.RightsCache = request.app.state.rights_cache
    after_commit(session, lambda: cache.forget(video_id))


@router.post("", status_code=201, response_model=LicenceOut, summary="License one of your titles")
def create_licence(
    request: Request, body: LicenceIn, user: User = required_user, session: Session = db_session
) -> LicenceOut:
    territories = [body.territories] if isinstance(body.territories, str) else body.territories
    licence = rights.create_licence(
        session,
        user,
        body.video_id,
        distributor=body.distributor,
        territories=territories,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        uses=list(body.uses),
        share_bps=body.share_bps,
    )
    _forget_after_commit(request, session, licence.video_id)
    return licence_out(licence)


@router.get("", response_model=list[LicenceOut], summary="Licences of your titles")
def list_licences(
    video_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    user: User = required_user,
    session: Session = db_session,
) -> list[LicenceOut]:
    return [licence_out(lic) for lic in rights.list_licences(session, user, video_id)]


@router.get("/{licence_id}", response_model=LicenceOut, summary="One licence")
def read_licence(licence_id: RowId, user: User = required_user, session: Session = db_session) -> LicenceOut:
    return licence_out(rights.get_licence(session, licence_id, user))


@router.delete("/{licence_id}", status_code=204, summary="End a licence now (remove it)")
def delete_licence(
    request: Request, licence_id: RowId, user: User = required_user, session: Session = db_session
) -> Response:
    video_id = rights.delete_licence(session, licence_id, user)
    _forget_after_commit(request, session, video_id)
    return Response(status_code=204)


revenue_router = APIRouter(prefix="/api/v1/revenue-share", tags=["rights"])


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


def revenue_report(
    request: Request, session: Session, user: User, start: date | None, end: date | None, by: str
) -> revenue.Report:
    today = clock.now().date()
    end = end or today
    start = start or end.replace(day=1) - timedelta(days=365)
    return revenue.revenue_share(session, user, start, end, get_context(request).settings.default_currency, by)


@revenue_router.get("", response_model=RevenueOut, summary="What your licensed titles earned, per distributor")
def revenue_share(
    request: Request,
    start: date | None = None,
    end: date | None = None,
    by: Literal["day", "month"] = "month",
    format: Literal["json", "csv"] = "json",  # noqa: A002  (the query parameter's name)
    user: User = required_user,
    session: Session = db_session,
) -> Response:
    report = revenue_report(request, session, user, start, end, by)
    if format == "csv":
        return Response(
            revenue.as_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="revenue-share.csv"'},
        )

    def money(amount: int) -> MoneyModel:
        return MoneyModel.of(Money(amount, report.currency))

    rows = [
        RevenueRowOut(
            period=r.period,
            video_id=r.video_id,
            title=r.title,
            licence_id=r.licence_id,
            distributor=r.distributor,
            views=r.views,
            watch_seconds=r.watch_seconds,
            ad_revenue=money(r.ad_revenue),
            sales=money(r.sales),
            share=money(r.share),
        )
        for r in report.rows
    ]
    body = RevenueOut(
        rows=rows, unlicensed_items=report.unlicensed_items, other_currency_items=report.other_currency_items
    )
    return Response(body.model_dump_json(), media_type="application/json")
