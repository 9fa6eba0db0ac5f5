"""One balance per merchant and currency: released sales plus its own top-ups, less ad spend not yet billed. Ads
draw on the top-ups first; only released sales can be paid out."""

from __future__ import annotations

from tests.commerce.helpers import ledger_ok
from tests.payouts.helpers import ask, balance, campaign_with_spend, sell, top_up
from tests.web.helpers import assert_problem
from vetrina.accounts.models import Role
from vetrina.ads import tracking
from vetrina.ads.models import Campaign
from vetrina.payments import ledger
from vetrina.payments.models import AccountKind, LedgerAccount


def _settle(ctx, campaign_id: int):
    with ctx.db.session(write=True) as session:
        return tracking.settle(session, session.get(Campaign, campaign_id, with_for_update=True))


def _ad_spend_transfers(ctx, campaign_id: int) -> list[tuple[str, int]]:
    """(account kind drawn on, amount) of the campaign's settlements."""
    with ctx.db.session() as session:
        return sorted(
            (session.get(LedgerAccount, t.debit_account_id).kind, t.amount)
            for t in ledger.transfers_for(session, f"campaign:{campaign_id}")
            if t.kind == "ad_spend"
        )


def test_sales_and_top_ups_are_one_balance_that_pays_for_ads_top_ups_first(client, ctx, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    sold = sell(client, make_account, merchant, price=10_000)
    assert sold == 9_500
    assert balance(client, merchant) == {"available": 9_500, "held": 0, "withdrawable": 9_500}

    topped = top_up(client, merchant, 3_000)  # the merchant's own top-up is seen at once, beside its sales
    assert topped["available"]["amount"] == 12_500
    assert balance(client, merchant) == {"available": 12_500, "held": 0, "withdrawable": 9_500}

    campaign_id = campaign_with_spend(ctx, merchant, spent=4_000)
    # Unbilled spend counts at once, and all of it comes off what can be paid out until it is billed: nothing
    # reserves the top-ups for it, so they could be spent on something else after a payout.
    assert balance(client, merchant) == {"available": 8_500, "held": 0, "withdrawable": 5_500}
    assert _settle(ctx, campaign_id).amount == 4_000
    assert _ad_spend_transfers(ctx, campaign_id) == [("merchant_payable", 1_000), ("wallet", 3_000)]
    assert balance(client, merchant) == {"available": 8_500, "held": 0, "withdrawable": 8_500}
    with ctx.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.billed == 4_000 and campaign.status == "active"
        top_ups = ledger.find_account(session, AccountKind.wallet, merchant.user.id, "EUR")
        assert ledger.available(top_ups) == 0
    assert _settle(ctx, campaign_id).amount == 0  # nothing new: nothing billed twice

    assert_problem(ask(client, merchant, 8_501), 422, "invalid-input")
    assert ask(client, merchant, 8_500).status_code == 201
    assert balance(client, merchant) == {"available": 0, "held": 0, "withdrawable": 0}
    ledger_ok(client, admin)


def test_top_ups_can_be_spent_on_ads_but_not_paid_out(client, ctx, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    top_up(client, merchant, 5_000)
    assert balance(client, merchant) == {"available": 5_000, "held": 0, "withdrawable": 0}
    refused = assert_problem(ask(client, merchant, 1_000), 422, "invalid-input")
    assert refused["field"] == "amount" and refused["withdrawable"] == {"amount": 0, "currency": "EUR"}

    campaign_id = campaign_with_spend(ctx, merchant, spent=2_000)
    assert _settle(ctx, campaign_id).amount == 2_000
    assert _ad_spend_transfers(ctx, campaign_id) == [("wallet", 2_000)]
    assert balance(client, merchant) == {"available": 3_000, "held": 0, "withdrawable": 0}
    assert client.get("/api/v1/payouts", headers=merchant.auth).json()["total"] == 0
    ledger_ok(client, admin)


def test_a_campaign_the_two_balances_cannot_cover_together_is_paused_and_nothing_is_drawn(client, ctx, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    sell(client, make_account, merchant, price=1_000)  # 950 released
    top_up(client, merchant, 100)
    campaign_id = campaign_with_spend(ctx, merchant, spent=1_100)
    # The spend ran ahead of the money: the balance says so, and nothing can be paid out.
    assert balance(client, merchant) == {"available": -50, "held": 0, "withdrawable": 0}
    assert _settle(ctx, campaign_id).amount == 0
    assert _ad_spend_transfers(ctx, campaign_id) == []
    with ctx.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.billed == 0 and campaign.status == "paused"
    assert balance(client, merchant) == {"available": -50, "held": 0, "withdrawable": 0}
    ledger_ok(client, admin)


def test_a_buyers_wallet_reads_as_before(client, make_account):
    buyer = make_account(Role.viewer)
    top_up(client, buyer, 2_000)
    body = client.get("/api/v1/wallet", headers=buyer.auth).json()
    assert body == {"available": {"amount": 2_000, "currency": "EUR"}, "held": {"amount": 0, "currency": "EUR"}}
    assert ask(client, buyer, 1_000).status_code == 403
