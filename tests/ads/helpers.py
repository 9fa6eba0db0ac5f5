"""Ad test helpers: campaign bodies, money for an advertiser, and a hostile XML document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vetrina.ads.models import Campaign
from vetrina.money import Money
from vetrina.payments import ledger
from vetrina.payments.models import AccountKind

NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def campaign_row(
    merchant_id: int,
    now: datetime,
    *,
    budget: int = 100_000,
    spent_millis: int = 0,
    currency: str = "EUR",
    kind: str = "overlay",
    name: str = "Direct",
    **fields: Any,
) -> Campaign:
    """An active campaign running a day either side of `now`, to add straight to the database (no HTTP); `fields`
    set any other column (a video, a bid, a frequency cap)."""
    defaults: dict[str, Any] = dict(
        merchant_id=merchant_id,
        name=name,
        kind=kind,
        bid_model="cpm",
        bid_amount=1000,
        currency=currency,
        budget_total=budget,
        budget_daily=budget,
        spent_millis=spent_millis,
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=1),
        targeting={},
        status="active",
        created_at=now,
        updated_at=now,
    )
    return Campaign(**{**defaults, **fields})


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<VAST version="4.2"><Ad><InLine><AdTitle>&lol3;</AdTitle></InLine></Ad></VAST>"""


def fund(ctx, merchant, amount: int = 100_000) -> None:
    """Give the merchant released money to spend (as sales would)."""
    with ctx.db.session(write=True) as session:
        funding = ledger.platform_account(session, AccountKind.funding, "EUR")
        payable = ledger.account(session, AccountKind.merchant_payable, merchant.user.id, "EUR")
        ledger.transfer(session, funding, payable, Money(amount, "EUR"), "test_sales", f"fund:{merchant.user.id}")


def linear(video_id: int | None, bid: int = 1000, **changes) -> dict:
    """A linear campaign's body; `changes` replace any of its fields (video_id included)."""
    body = {
        "name": "Summer spot",
        "kind": "linear",
        "video_id": video_id,
        "bid": {"model": "cpm", "price": eur(bid)},
        "budget_total": eur(50_000),
        "budget_daily": eur(10_000),
        "starts_at": (NOON - timedelta(days=1)).isoformat(),
        "ends_at": (NOON + timedelta(days=30)).isoformat(),
    }
    return {**body, **changes}


def eur(amount: int) -> dict:
    return {"amount": amount, "currency": "EUR"}
