"""Campaigns: a merchant's paid placements, checked on every change, only ever touched by their merchant."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.ads.models import Campaign, CampaignStatus
from vetrina.catalog import service as catalog
from vetrina.context import Context, Topic
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.media import service as media
from vetrina.media.models import VideoStatus
from vetrina.money import MilliMoney, Money
from vetrina.netguard import check_outgoing_url
from vetrina.payments import wallet
from vetrina.text import clean_text

DEVICES = frozenset({"desktop", "mobile", "tablet", "tv"})
_TERRITORY = re.compile(r"^[A-Z]{2}$")
MAX_LIST = 250
# Who may move a campaign from one status to another (the system alone marks it exhausted).
_TRANSITIONS = {
    CampaignStatus.draft: {CampaignStatus.active, CampaignStatus.ended},
    CampaignStatus.active: {CampaignStatus.paused, CampaignStatus.ended},
    CampaignStatus.paused: {CampaignStatus.active, CampaignStatus.ended},
    CampaignStatus.exhausted: {CampaignStatus.ended},
    CampaignStatus.ended: set(),
}


@dataclass
class CampaignSpec:
    name: str
    kind: str
    bid_model: str
    bid: Money
    budget_total: Money
    budget_daily: Money
    starts_at: datetime
    ends_at: datetime
    video_id: int | None = None
    product_id: int | None = None
    vast_url: str | None = None
    targeting: dict[str, Any] = field(default_factory=dict)
    frequency_cap: tuple[int, int] | None = None  # (count, per_hours)
    skippable: bool = True


def _words(key: str, values: list[Any]) -> list[str]:
    """Targeted names (channels, categories): strings of typed text, lower-cased."""
    field = f"targeting.{key}"
    if not all(isinstance(v, str) for v in values):
        raise InvalidInput(_("{field} is a list of names.", field=field), field=field)
    try:
        words = {clean_text(v, field, 60, required=True).lower() for v in values}
        for word in words:
            word.encode()  # a lone surrogate (JSON allows "\ud800") cannot be stored
    except UnicodeEncodeError:
        raise InvalidInput(_("{field} holds characters that are not text.", field=field), field=field) from None
    return sorted(words)


def check_targeting(targeting: dict[str, Any]) -> dict[str, Any]:
    """Targeting as stored: known keys only, each a bounded list of checked values."""
    unknown = set(targeting) - {"channels", "territories", "devices", "hours", "categories"}
    if unknown:
        raise InvalidInput(_("Unknown targeting: {keys}.", keys=", ".join(sorted(unknown))), field="targeting")
    out: dict[str, Any] = {}
    for key, values in targeting.items():
        if not isinstance(values, list) or len(values) > MAX_LIST:
            raise InvalidInput(
                _("targeting.{key} is a list of at most {most} values.", key=key, most=MAX_LIST),
                field=f"targeting.{key}",
            )
        if key == "territories":
            if not all(isinstance(v, str) and _TERRITORY.match(v.upper()) for v in values):
                raise InvalidInput(_("Territories are ISO 3166-1 two-letter codes."), field="targeting.territories")
            values = sorted({v.upper() for v in values})
        elif key == "devices":
            if not all(isinstance(v, str) and v in DEVICES for v in values):
                raise InvalidInput(
                    _("Devices are {devices}.", devices=", ".join(sorted(DEVICES))), field="targeting.devices"
                )
            values = sorted(set(values))
        elif key == "hours":
            # bool is an int in Python, but true is not an hour
            if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 23 for v in values):
                raise InvalidInput(_("Hours are 0 to 23 (UTC)."), field="targeting.hours")
            values = sorted(set(values))
        else:
            values = _words(key, values)
        if values:
            out[key] = values
    return out


def _instant(value: datetime, field: str) -> datetime:
    """`value` in UTC, as it is stored; InvalidInput when UTC has no such date (before year 1 or after 9999)."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(_("The date lies outside the years 1 to 9999 in UTC."), field=field) from None


def _check_money(spec: CampaignSpec) -> None:
    if len({spec.bid.currency, spec.budget_total.currency, spec.budget_daily.currency}) != 1:
        raise InvalidInput(_("The bid and budgets are in one currency."), field="budget_total")
    if spec.budget_daily.amount > spec.budget_total.amount:
        raise InvalidInput(_("The daily budget is at most the total budget."), field="budget_daily")
    if spec.bid_model not in ("cpm", "cpc"):
        raise InvalidInput(_("A bid is cpm (per thousand impressions) or cpc (per click)."), field="bid.model")


def _check_creative(ctx: Context, session: Session, merchant: User, spec: CampaignSpec) -> None:
    given = [name for name in ("video_id", "product_id", "vast_url") if getattr(spec, name) is not None]
    if spec.kind == "linear":
        if given not in (["video_id"], ["vast_url"]):
            raise InvalidInput(
                _("A linear campaign shows one of your videos (video_id) or a VAST tag (vast_url)."), field="video_id"
            )
        if spec.bid_model != "cpm":
            raise InvalidInput(_("Linear ads are bought per thousand impressions (cpm)."), field="bid.model")
        if spec.video_id is not None:
            media.video_for_change(session, spec.video_id, merchant)
        elif spec.vast_url is not None:
            spec.vast_url = check_outgoing_url(spec.vast_url, ctx.settings.fetch_allow_private)
    elif spec.kind == "overlay":
        if given != ["product_id"] or spec.product_id is None:
            raise InvalidInput(
                _("An overlay campaign shows one of your products as a card (product_id)."), field="product_id"
            )
        catalog.product_for_change(session, spec.product_id, merchant)
    else:
        raise InvalidInput(
            _("A campaign is linear (before or inside the film) or overlay (a card over it)."), field="kind"
        )


def create_campaign(ctx: Context, session: Session, merchant: User, spec: CampaignSpec) -> Campaign:
    """A new campaign, as a draft: nothing is served or spent until it is made active."""
    if merchant.role not in (Role.merchant, Role.admin):
        raise Forbidden(_("Only merchants run campaigns."))
    _check_money(spec)
    _check_creative(ctx, session, merchant, spec)
    spec.starts_at, spec.ends_at = _instant(spec.starts_at, "starts_at"), _instant(spec.ends_at, "ends_at")
    if spec.ends_at <= spec.starts_at:
        raise InvalidInput(_("A campaign ends after it starts."), field="ends_at")
    now = clock.now()
    campaign = Campaign(
        merchant_id=merchant.id,
        name=clean_text(spec.name, "name", 120, required=True),
        kind=spec.kind,
        video_id=spec.video_id,
        product_id=spec.product_id,
        vast_url=spec.vast_url,
        bid_model=spec.bid_model,
        bid_amount=spec.bid.amount,
        currency=spec.bid.currency,
        budget_total=spec.budget_total.amount,
        budget_daily=spec.budget_daily.amount,
        spent_millis=0,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        targeting=check_targeting(spec.targeting),
        skippable=spec.skippable,
        status=CampaignStatus.draft.value,
        frequency_cap_count=spec.frequency_cap[0] if spec.frequency_cap else None,
        frequency_cap_hours=spec.frequency_cap[1] if spec.frequency_cap else None,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    ctx.caches.forget_after_commit(session, Topic.campaigns)
    return campaign


def get_campaign(session: Session, campaign_id: int, user: User, lock: bool = False) -> Campaign:
    """One of the user's own campaigns (an admin's: any); another merchant's is as unknown as a missing one."""
    campaign = session.get(Campaign, campaign_id, with_for_update=lock)
    if campaign is None or (campaign.merchant_id != user.id and user.role != Role.admin):
        raise NotFound(_("You have no campaign {campaign_id}.", campaign_id=campaign_id))
    return campaign


def list_campaigns(session: Session, user: User) -> list[Campaign]:
    return list(
        session.scalars(select(Campaign).where(Campaign.merchant_id == user.id).order_by(Campaign.id.desc()).limit(500))
    )


def update_campaign(ctx: Context, session: Session, campaign_id: int, user: User, changes: dict[str, Any]) -> Campaign:
    """Change what may change; a status change follows the allowed transitions and checks what it needs."""
    campaign = get_campaign(session, campaign_id, user, lock=True)
    if campaign.status == CampaignStatus.ended:
        raise Conflict(_("The campaign has ended; make a new one."))
    if "name" in changes:
        campaign.name = clean_text(changes["name"], "name", 120, required=True)
    for money_field in ("budget_total", "budget_daily", "bid"):
        if money_field in changes:
            value: Money = changes[money_field]
            if value.currency != campaign.currency:
                raise InvalidInput(_("The campaign is in {currency}.", currency=campaign.currency), field=money_field)
            setattr(campaign, "bid_amount" if money_field == "bid" else money_field, value.amount)
    if campaign.budget_daily > campaign.budget_total:
        raise InvalidInput(_("The daily budget is at most the total budget."), field="budget_daily")
    if MilliMoney.of(campaign.total_budget) < campaign.spent:
        raise InvalidInput(_("The total budget cannot go below what is already spent."), field="budget_total")
    if "starts_at" in changes:
        campaign.starts_at = _instant(changes["starts_at"], "starts_at")
    if "ends_at" in changes:
        campaign.ends_at = _instant(changes["ends_at"], "ends_at")
    if campaign.ends_at <= campaign.starts_at:
        raise InvalidInput(_("A campaign ends after it starts."), field="ends_at")
    if "targeting" in changes:
        campaign.targeting = check_targeting(changes["targeting"])
    if "frequency_cap" in changes:
        cap = changes["frequency_cap"]
        campaign.frequency_cap_count, campaign.frequency_cap_hours = cap if cap else (None, None)
    if "skippable" in changes:
        campaign.skippable = bool(changes["skippable"])
    if "status" in changes and changes["status"] != campaign.status:
        _move(session, campaign, user, changes["status"])
    campaign.updated_at = clock.now()
    ctx.caches.forget_after_commit(session, Topic.campaigns)
    return campaign


def _move(session: Session, campaign: Campaign, user: User, status: str) -> None:
    try:
        target = CampaignStatus(status)
    except ValueError:
        raise InvalidInput(_("status is draft, active, paused or ended."), field="status") from None
    if target not in _TRANSITIONS[CampaignStatus(campaign.status)]:
        raise Conflict(_("A {status} campaign cannot become {target}.", status=campaign.status, target=target))
    if target == CampaignStatus.active:
        if campaign.video_id is not None:
            video = media.video_for_change(session, campaign.video_id, user)
            if video.status != VideoStatus.ready:
                raise Conflict(_("The campaign's video is not ready to stream yet."))
        remaining = campaign.total_budget - campaign.spent.whole_units()
        funds = wallet.wallet_view(session, _merchant(session, campaign), campaign.currency).available
        if funds < remaining:
            raise Conflict(
                _(
                    "Your balance ({balance}) does not cover the budget left ({remaining}).",
                    balance=funds.display(),
                    remaining=remaining.display(),
                )
            )
    campaign.status = target.value


def _merchant(session: Session, campaign: Campaign) -> User:
    return session.get_one(User, campaign.merchant_id)  # a foreign key (deleting the merchant deletes the campaign)
