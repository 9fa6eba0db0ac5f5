"""What happens to served ads: tracked events (each counted once), spend charged atomically, and the
settlement that moves spend from the merchant's balance to the platform.

An impression (CPM) or a click (CPC) adds its price to the campaign's spend with one conditional
UPDATE that only succeeds while the campaign is active and under its total budget. Concurrent charges
are serialised by the row, so the last one admitted can overshoot the budget by at most its own price.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from huey import crontab
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vetrina.ads import tokens
from vetrina.ads.models import AdDecision, AdEvent, Campaign, CampaignDay, CampaignStatus
from vetrina.context import Context
from vetrina.errors import InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.jobs import periodic_job
from vetrina.money import MilliMoney, Money, in_millis
from vetrina.payments import ledger
from vetrina.payments.ledger import InsufficientFunds
from vetrina.payments.models import AccountKind, LedgerAccount

log = logging.getLogger(__name__)
EVENTS = frozenset(
    {
        "impression",
        "creativeView",
        "start",
        "firstQuartile",
        "midpoint",
        "thirdQuartile",
        "complete",
        "skip",
        "click",
        "close",
        "pause",
        "resume",
        "mute",
        "unmute",
        "error",
    }
)


# Why a beacon of a served ad is not charged (`traffic.Screen`), or None; absent for events Vetrina itself records.
Screen = Callable[[tokens.Served, str, datetime], str | None]


def record_event(
    session: Session,
    signing_key: bytes,
    token: str,
    event: str,
    now: datetime,
    error_code: int | None = None,
    screen: Screen | None = None,
) -> bool:
    """Count `event` of a served ad once (True), or recognise a repeat (False); charge it when it is billable and
    `screen` finds nothing wrong with it (otherwise it is recorded with the reason, and not charged).

    The first event of an ad records the decision its signed token carries (frequency caps count these)."""
    if event not in EVENTS:
        raise InvalidInput(_("Unknown ad event {event}.", event=repr(event)), field="event")
    served = tokens.verify(signing_key, token, now.timestamp())
    filtered_reason = screen(served, event, now) if screen is not None else None
    if session.get(AdDecision, served.nonce) is None:
        try:
            with session.begin_nested():
                session.add(
                    AdDecision(
                        id=served.nonce,
                        campaign_id=served.campaign_id,
                        video_id=served.video_id,
                        slot=served.slot,
                        viewer_key=served.viewer_key,
                        price_millis=served.price_millis,
                        territory=served.territory or None,
                        created_at=datetime.fromtimestamp(served.issued_at, UTC),
                    )
                )
        except IntegrityError:
            # Recorded by a concurrent event of the same ad, or its campaign or video is gone.
            if session.get(AdDecision, served.nonce) is None:
                raise NotFound(_("The campaign or video of this ad no longer exists.")) from None
    row = AdEvent(
        decision_id=served.nonce,
        campaign_id=served.campaign_id,
        event=event,
        error_code=error_code,
        charged_millis=0,
        filtered_reason=filtered_reason,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    campaign = session.get_one(Campaign, served.campaign_id)  # the decision recorded above refers to it
    billable = filtered_reason is None and (
        (event == "impression" and campaign.bid_model == "cpm") or (event == "click" and campaign.bid_model == "cpc")
    )
    if billable:
        price = MilliMoney(served.price_millis, campaign.currency)
        row.charged_millis = charge(session, campaign.id, price, now).millis
    return True


def record_click(session: Session, signing_key: bytes, token: str, now: datetime, screen: Screen | None = None) -> str:
    """Count a click on a served ad (charged when its campaign pays per click); the path it leads to: the
    campaign's product page, or its video's. A third-party ad has neither: its clicks go to its own ClickThrough."""
    served = tokens.verify(signing_key, token, now.timestamp())
    campaign = session.get(Campaign, served.campaign_id)
    if campaign is None or (campaign.product_id is None and campaign.video_id is None):
        raise NotFound(_("This ad has no page here."))
    record_event(session, signing_key, token, "click", now, screen=screen)
    return f"/p/{campaign.product_id}" if campaign.product_id else f"/watch/{campaign.video_id}"


def charge(session: Session, campaign_id: int, price: MilliMoney, now: datetime) -> MilliMoney:
    """Add `price` (in the campaign's currency) to the campaign's spend if it may still spend; what was charged
    (nothing or the price)."""
    admitted = cast(
        CursorResult[Any],
        session.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign_id,
                Campaign.status == CampaignStatus.active.value,
                Campaign.spent_millis < in_millis(Campaign.budget_total),
            )
            .values(spent_millis=Campaign.spent_millis + price.millis)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if not admitted:
        return MilliMoney.zero(price.currency)
    session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.spent_millis >= in_millis(Campaign.budget_total),
            Campaign.status == CampaignStatus.active.value,
        )
        .values(status=CampaignStatus.exhausted.value)
        .execution_options(synchronize_session=False)
    )
    _add_to_day(session, campaign_id, now, price.millis)
    return price


def _add_to_day(session: Session, campaign_id: int, now: datetime, millis: int) -> None:
    day = now.date()
    for _attempt in range(2):
        counted = cast(
            CursorResult[Any],
            session.execute(
                update(CampaignDay)
                .where(CampaignDay.campaign_id == campaign_id, CampaignDay.day == day)
                .values(spent_millis=CampaignDay.spent_millis + millis)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if counted:
            return
        try:
            with session.begin_nested():
                session.add(CampaignDay(campaign_id=campaign_id, day=day, spent_millis=millis))
            return
        except IntegrityError:
            continue  # another charge made today's row first: add to it


def settle(session: Session, campaign: Campaign) -> Money:
    """Move the campaign's unbilled spend (whole minor units) from the merchant's money to the platform: from its
    own top-ups (its wallet) first, the rest from its released sales (merchant_payable), one transfer each under one
    reference, so what can be paid out is drawn on last.

    A merchant whose two balances together cannot cover it has its campaign paused; what is owed stays unbilled."""
    amount = campaign.spent.whole_units() - Money(campaign.billed, campaign.currency)
    if amount.amount <= 0:
        return Money.zero(campaign.currency)
    payable = ledger.account(session, AccountKind.merchant_payable, campaign.merchant_id, campaign.currency)
    top_ups = ledger.find_account(session, AccountKind.wallet, campaign.merchant_id, campaign.currency)
    earnings = ledger.platform_account(session, AccountKind.advertising, campaign.currency)
    # Read both under their row locks (in id order, as the ledger locks), so the split is made on current figures;
    # fetched, not only executed, so that populate_existing refreshes them.
    session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.id.in_(sorted(a.id for a in (payable, top_ups) if a is not None)))
        .order_by(LedgerAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    spendable_top_ups = ledger.available(top_ups) if top_ups is not None else 0
    from_top_ups = Money(min(max(0, spendable_top_ups), amount.amount), amount.currency)
    from_sales = amount - from_top_ups
    reference = f"campaign:{campaign.id}"
    try:
        with session.begin_nested():
            if top_ups is not None and from_top_ups.amount:
                ledger.transfer(session, top_ups, earnings, from_top_ups, "ad_spend", reference)
            if from_sales.amount:
                ledger.transfer(session, payable, earnings, from_sales, "ad_spend", reference)
    except InsufficientFunds:
        if campaign.status == CampaignStatus.active:
            campaign.status = CampaignStatus.paused.value
        log.info("campaign %s paused: the merchant's balance does not cover %s", campaign.id, amount.display())
        return Money.zero(campaign.currency)
    campaign.billed += amount.amount
    return amount


@periodic_job("ads.settle", crontab(minute="*/5"))
def settle_all(ctx: Context) -> None:
    """Bill every campaign's spend since the last settlement, one transaction per campaign."""
    with ctx.db.session() as session:
        unbilled_unit = Campaign.spent_millis >= in_millis(Campaign.billed + 1)  # a whole unit more than billed
        ids = list(session.scalars(select(Campaign.id).where(unbilled_unit)))
    for campaign_id in ids:
        with ctx.db.session(write=True) as session:
            campaign = session.get(Campaign, campaign_id, with_for_update=True)
            if campaign is None:  # deleted (with its merchant) since the list was read
                continue
            settle(session, campaign)
