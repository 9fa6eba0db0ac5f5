"""A merchant's money per currency, from the ledger and its ad campaigns.

Two ledger accounts hold it and stay apart: `merchant_payable` (released sales, less payouts) and the merchant's
own `wallet` (its top-ups). Both are spendable on ads (`ads.tracking.settle` draws on the wallet first); only
released sales can leave as a payout. Top-ups merchants made before this was read here need no data migration:
they were always credited to the merchant's `wallet` account, which is read here now.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina.accounts.models import Role, User
from vetrina.ads.models import Campaign
from vetrina.money import MILLIS_PER_MINOR, Money, check_currency
from vetrina.payments import ledger, wallet
from vetrina.payments.models import AccountKind, LedgerAccount

MERCHANT_KINDS = (AccountKind.merchant_payable.value, AccountKind.wallet.value)


@dataclass(frozen=True)
class MerchantBalance:
    sales: Money  # released sales not yet paid out or asked for (merchant_payable's available)
    top_ups: Money  # the merchant's own top-ups not yet spent (its wallet's available)
    unbilled: Money  # ad spend charged to its campaigns and not yet moved to the platform by the settlement
    held: Money  # buyers' payments in escrow for it: released when they confirm

    @property
    def available(self) -> Money:
        """What the merchant has: negative when ad spend ran ahead of its money (the campaign is then paused)."""
        return self.sales + self.top_ups - self.unbilled

    @property
    def withdrawable(self) -> Money:
        """What a payout may take: released sales less all unbilled ad spend, never below 0. The top-ups are not
        counted on to cover that spend: nothing reserves them, so the merchant could spend them on an order after
        the payout and leave the spend unbillable."""
        return Money(max(0, self.sales.amount - self.unbilled.amount), self.sales.currency)


def unbilled_ad_spend(session: Session, merchant_id: int, currency: str) -> Money:
    """The merchant's campaigns' spend in whole minor units (as the settlement bills it) less what was billed."""
    rows = session.execute(
        select(Campaign.spent_millis, Campaign.billed).where(
            Campaign.merchant_id == merchant_id, Campaign.currency == currency
        )
    )
    return Money(sum(max(0, spent // MILLIS_PER_MINOR - billed) for spent, billed in rows), currency)


def _available(acct: LedgerAccount | None, currency: str) -> Money:
    return Money(ledger.available(acct) if acct is not None else 0, currency)


def merchant_balance(session: Session, merchant_id: int, currency: str) -> MerchantBalance:
    currency = check_currency(currency)
    payable = ledger.find_account(session, AccountKind.merchant_payable, merchant_id, currency)
    top_ups = ledger.find_account(session, AccountKind.wallet, merchant_id, currency)
    return MerchantBalance(
        sales=_available(payable, currency),
        top_ups=_available(top_ups, currency),
        unbilled=unbilled_ad_spend(session, merchant_id, currency),
        held=Money(ledger.held_for(session, payable) if payable is not None else 0, currency),
    )


def currencies(session: Session, merchant_id: int) -> list[str]:
    """The currencies the merchant has money in (an account for its sales or its top-ups), sorted."""
    return sorted(
        set(
            session.scalars(
                select(LedgerAccount.currency).where(
                    LedgerAccount.owner_id == merchant_id, LedgerAccount.kind.in_(MERCHANT_KINDS)
                )
            )
        )
    )


def wallet_view(session: Session, user: User, currency: str) -> wallet.WalletView:
    """What a user's wallet shows: a merchant's whole balance (less unbilled ad spend), a buyer's wallet."""
    if user.role != Role.merchant:
        return wallet.wallet_view(session, user, currency)
    balance = merchant_balance(session, user.id, currency)
    return wallet.WalletView(available=balance.available, held=balance.held)
