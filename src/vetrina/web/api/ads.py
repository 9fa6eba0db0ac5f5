"""/api/v1/campaigns, /api/v1/ads (VAST, HLS interstitials' asset lists, tracking, clicks) and
/api/v1/videos/{id}/vmap|ad-settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.ads import campaigns as ads
from vetrina.ads import interstitials, reports, serve, tracking, traffic
from vetrina.ads.models import Campaign
from vetrina.ads.vast import write_vast
from vetrina.ads.vmap import write_vmap
from vetrina.i18n import _
from vetrina.money import Money, MoneyModel, PositiveMoneyModel
from vetrina.storage import absolute_url
from vetrina.web.browser_safety import allow_reading_from_any_site
from vetrina.web.deps import (
    RowId,
    cookie_secure,
    db_session,
    get_context,
    optional_user,
    public_base_url,
    required_user,
    territory,
)
from vetrina.web.limits import client_address

router = APIRouter(tags=["ads"])
VIEWER_COOKIE = "vetrina_viewer"
XML = "application/xml"


class Bid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Literal["cpm", "cpc"]
    price: PositiveMoneyModel


class FrequencyCap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=1000)
    per_hours: int = Field(ge=1, le=24 * 90)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=120)
    kind: Literal["linear", "overlay"]
    video_id: int | None = Field(None, ge=1, le=2**31 - 1)
    product_id: int | None = Field(None, ge=1, le=2**31 - 1)
    vast_url: str | None = Field(None, max_length=2000)
    bid: Bid
    budget_total: PositiveMoneyModel
    budget_daily: PositiveMoneyModel
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    targeting: dict[str, list[Any]] = Field(default_factory=dict)
    frequency_cap: FrequencyCap | None = None
    skippable: bool = True


class CampaignChanges(BaseModel):
    """Only what is given changes. null would erase a required field, so it is refused, except for
    frequency_cap, where it removes the cap."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=120)
    bid: PositiveMoneyModel | None = None
    budget_total: PositiveMoneyModel | None = None
    budget_daily: PositiveMoneyModel | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    targeting: dict[str, list[Any]] | None = None
    frequency_cap: FrequencyCap | None = None
    skippable: bool | None = None
    status: Literal["draft", "active", "paused", "ended"] | None = None

    @field_validator(
        "name", "bid", "budget_total", "budget_daily", "starts_at", "ends_at", "targeting", "skippable", "status"
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(_("may be left out, but not null"))
        return value


class CampaignOut(BaseModel):
    id: int
    name: str
    kind: str
    video_id: int | None
    product_id: int | None
    vast_url: str | None
    bid: dict[str, Any]
    budget_total: MoneyModel
    budget_daily: MoneyModel
    spent: MoneyModel
    starts_at: datetime
    ends_at: datetime
    targeting: dict[str, Any]
    frequency_cap: dict[str, int] | None
    skippable: bool
    status: str


class AdSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preroll: bool = True
    midrolls_s: list[Annotated[float, Field(gt=0, le=7 * 24 * 3600)]] = Field(default_factory=list, max_length=20)
    overlays_s: list[Annotated[float, Field(ge=0, le=7 * 24 * 3600)]] = Field(default_factory=list, max_length=20)
    floor_cpm: MoneyModel | None = None
    snap_to_scenes: bool = Field(False, description="Move each mid-roll to the nearest scene cut (found by a job).")


def campaign_out(campaign: Campaign) -> CampaignOut:
    def money(amount: int) -> MoneyModel:
        return MoneyModel(amount=amount, currency=campaign.currency)

    cap = (
        {"count": campaign.frequency_cap_count, "per_hours": campaign.frequency_cap_hours}
        if campaign.frequency_cap_count
        else None
    )
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        kind=campaign.kind,
        video_id=campaign.video_id,
        product_id=campaign.product_id,
        vast_url=campaign.vast_url,
        bid={"model": campaign.bid_model, "price": money(campaign.bid_amount)},
        budget_total=money(campaign.budget_total),
        budget_daily=money(campaign.budget_daily),
        spent=MoneyModel.of(campaign.spent.whole_units()),
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        targeting=campaign.targeting,
        frequency_cap=cap,
        skippable=campaign.skippable,
        status=campaign.status,
    )


@router.post("/api/v1/campaigns", status_code=201, response_model=CampaignOut, summary="Create a campaign (draft)")
def create_campaign(
    request: Request, body: CampaignIn, user: User = required_user, session: Session = db_session
) -> CampaignOut:
    spec = ads.CampaignSpec(
        name=body.name,
        kind=body.kind,
        bid_model=body.bid.model,
        bid=body.bid.price.to_money(),
        budget_total=body.budget_total.to_money(),
        budget_daily=body.budget_daily.to_money(),
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        video_id=body.video_id,
        product_id=body.product_id,
        vast_url=body.vast_url,
        targeting=body.targeting,
        skippable=body.skippable,
        frequency_cap=(body.frequency_cap.count, body.frequency_cap.per_hours) if body.frequency_cap else None,
    )
    campaign = ads.create_campaign(get_context(request), session, user, spec)
    return campaign_out(campaign)


@router.get("/api/v1/campaigns", response_model=list[CampaignOut], summary="Your campaigns")
def list_campaigns(user: User = required_user, session: Session = db_session) -> list[CampaignOut]:
    return [campaign_out(c) for c in ads.list_campaigns(session, user)]


@router.get("/api/v1/campaigns/{campaign_id}", response_model=CampaignOut, summary="One of your campaigns")
def read_campaign(campaign_id: RowId, user: User = required_user, session: Session = db_session) -> CampaignOut:
    return campaign_out(ads.get_campaign(session, campaign_id, user))


@router.patch("/api/v1/campaigns/{campaign_id}", response_model=CampaignOut, summary="Change or start/pause/end")
def change_campaign(
    request: Request,
    campaign_id: RowId,
    body: CampaignChanges,
    user: User = required_user,
    session: Session = db_session,
) -> CampaignOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    for key in ("bid", "budget_total", "budget_daily"):
        if key in changes:
            changes[key] = getattr(body, key).to_money()
    if "frequency_cap" in changes:
        changes["frequency_cap"] = (
            (body.frequency_cap.count, body.frequency_cap.per_hours) if body.frequency_cap else None
        )
    campaign = ads.update_campaign(get_context(request), session, campaign_id, user, changes)
    return campaign_out(campaign)


@router.get("/api/v1/campaigns/{campaign_id}/report", summary="Impressions, quartiles, clicks, spend, purchases")
def campaign_report(
    request: Request, campaign_id: RowId, user: User = required_user, session: Session = db_session
) -> dict[str, Any]:
    settings = get_context(request).settings
    campaign = ads.get_campaign(session, campaign_id, user)
    return reports.campaign_report(session, campaign, settings.ads_click_window_days, settings.ads_view_window_days)


def _viewer(request: Request, user: User | None) -> tuple[str, str, str | None]:
    """(who is watching, for frequency caps, rate limits and beacons; their client address; a viewer cookie to set
    or None): see `traffic.viewer_identity`."""
    address = client_address(request)
    key, new_cookie = traffic.viewer_identity(
        get_context(request).store.signing_key,
        user.id if user is not None else None,
        request.cookies.get(VIEWER_COOKIE),
        address,
        request.headers.get("user-agent", ""),
    )
    return key, address, new_cookie


def _screen(request: Request, user: User | None) -> traffic.Screen:
    """What judges this request's beacons: who sent them, from where, as what agent."""
    ctx = get_context(request)
    key, address, _new_cookie = _viewer(request, user)
    sender = traffic.Sender(
        key, address, traffic.address_tag(ctx.store.signing_key, address), request.headers.get("user-agent", "")
    )
    return traffic.Screen(ctx.rate_limits, sender)


@router.get("/api/v1/ads/vast", summary="VAST 4.2 for one ad slot of a video", response_class=Response)
def vast(
    request: Request,
    video_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    slot: Annotated[str, Query(max_length=32)] = "preroll",
    device: Annotated[Literal["desktop", "mobile", "tablet", "tv"] | None, Query()] = None,
    user: User | None = optional_user,
    viewer_territory: str = territory,
    _any_site: None = Depends(allow_reading_from_any_site),
) -> Response:
    ctx = get_context(request)
    viewer_key, address, new_cookie = _viewer(request, user)
    viewer = serve.Viewer(viewer_key, user, viewer_territory, device, address)
    document = serve.vast_for_slot(ctx, public_base_url(request), video_id, slot, viewer)
    response = Response(write_vast(document), media_type=XML, headers={"Cache-Control": "no-store"})
    return _remember_viewer(request, response, new_cookie)


def _remember_viewer(request: Request, response: Response, new_cookie: str | None) -> Response:
    if new_cookie:
        response.set_cookie(
            VIEWER_COOKIE,
            new_cookie,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=cookie_secure(request),
        )
    return response


@router.get(
    "/api/v1/ads/interstitials",
    summary="An HLS interstitial's asset list: this viewer's ad for one break of a video",
    response_class=JSONResponse,
)
def interstitial_assets(
    request: Request,
    video_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    slot: Annotated[str, Query(max_length=32)] = "preroll",
    user: User | None = optional_user,
    viewer_territory: str = territory,
    _any_site: None = Depends(allow_reading_from_any_site),
) -> Response:
    """Named by the playlist's `X-ASSET-LIST`; players add `_HLS_primary_id` and `_HLS_start_offset`, unread here.
    Any site's player may ask (the playlist is public to whoever holds its link), so any origin may read it."""
    ctx = get_context(request)
    viewer_key, address, new_cookie = _viewer(request, user)
    viewer = serve.Viewer(viewer_key, user, viewer_territory, None, address)
    assets = interstitials.asset_list(ctx, public_base_url(request), video_id, slot, viewer)
    return _remember_viewer(request, JSONResponse(assets, headers={"Cache-Control": "no-store"}), new_cookie)


@router.api_route(
    "/api/v1/ads/assets/{decision_id}",
    methods=["GET", "HEAD"],
    summary="An interstitial's spot, as the asset list names it: its impression counted, then on to its HLS",
    response_class=RedirectResponse,
)
def interstitial_asset(
    request: Request,
    decision_id: str,
    user: User | None = optional_user,
    _any_site: None = Depends(allow_reading_from_any_site),
) -> Response:
    ctx = get_context(request)
    target = absolute_url(public_base_url(request), interstitials.asset_target(ctx, decision_id))
    headers = {"Cache-Control": "no-store"}  # one per play
    # Counted once the player is on its way: a write must not hold up the ad's first frame.
    # A HEAD (Shaka asks one to learn the asset's type) counts nothing.
    count = None
    if request.method == "GET":
        count = BackgroundTask(interstitials.count_asset_fetch, ctx, decision_id, _screen(request, user))
    return RedirectResponse(target, status_code=302, headers=headers, background=count)


@router.get("/api/v1/videos/{video_id}/vmap", summary="VMAP 1.0 of the video's ad breaks", response_class=Response)
def vmap(
    request: Request,
    video_id: RowId,
    user: User | None = optional_user,
    session: Session = db_session,
    viewer_territory: str = territory,
    _any_site: None = Depends(allow_reading_from_any_site),
) -> Response:
    ctx = get_context(request)
    ad_breaks = serve.vmap_breaks(
        ctx, session, public_base_url(request), video_id, user, viewer_territory, ctx.settings.default_currency
    )
    return Response(write_vmap(ad_breaks), media_type=XML, headers={"Cache-Control": "private, no-store"})


@router.put("/api/v1/videos/{video_id}/ad-settings", summary="Where ads go in your video, and its floor price")
def put_ad_settings(
    request: Request, video_id: RowId, body: AdSettingsIn, user: User = required_user, session: Session = db_session
) -> dict[str, Any]:
    ctx = get_context(request)
    floor = body.floor_cpm.to_money() if body.floor_cpm else Money.zero(ctx.settings.default_currency)
    row = serve.set_ad_settings(
        ctx,
        session,
        video_id,
        user,
        body.preroll,
        body.midrolls_s,
        body.overlays_s,
        floor,
        body.snap_to_scenes,
    )
    return {
        "video_id": video_id,
        "preroll": row.preroll,
        "midrolls_s": row.midrolls_s,
        "overlays_s": row.overlays_s,
        "floor_cpm": floor.as_json(),
        "snap_to_scenes": row.snap_to_scenes,
    }


@router.get("/api/v1/ads/events/{decision_id}/{event}", status_code=204, summary="A player's tracking beacon")
def ad_event(
    request: Request,
    decision_id: str,
    event: str,
    code: Annotated[str | None, Query(max_length=16)] = None,
    user: User | None = optional_user,
) -> Response:
    """Counted once per served ad and event, charged only when it is valid traffic (`vetrina.ads.traffic`); macros
    a player did not fill (`[ERRORCODE]`) are ignored."""
    ctx = get_context(request)
    if decision_id == "none":  # the Error URL of an answer with no ad: nothing to count against
        return Response(status_code=204)
    error_code = int(code) if code and code.isdigit() else None
    with ctx.db.session(write=True) as session:
        tracking.record_event(
            session,
            ctx.store.signing_key,
            decision_id,
            event[:32],
            clock.now(),
            error_code,
            screen=_screen(request, user),
        )
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.get("/api/v1/ads/click/{decision_id}", summary="A click on an ad: counted, then on to the product or video")
def ad_click(request: Request, decision_id: str, user: User | None = optional_user) -> Response:
    ctx = get_context(request)
    with ctx.db.session(write=True) as session:
        target = tracking.record_click(
            session, ctx.store.signing_key, decision_id, clock.now(), screen=_screen(request, user)
        )
    return RedirectResponse(target, status_code=302)
