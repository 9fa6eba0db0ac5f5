"""Wallets: what a user can spend and what is held in escrow; top-ups from the funding provider."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from vetrina.accounts.models import Role, User
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.money import Money, check_currency
from vetrina.payments import ledger
from vetrina.payments.funding import FundingProvider
from vetrina.payments.models import AccountKind


@dataclass(frozen=True)
class WalletView:
    available: Money
    held: Money


def wallet_view(session: Session, user: User, currency: str) -> WalletView:
    """A buyer's spendable money and its payments in escrow. A merchant's money in both its accounts, its released
    sales (`merchant_payable`) and its own top-ups (its `wallet`), and what escrow holds for it; ad spend not yet
    billed is not taken off here (`payouts.balances` does, knowing the campaigns)."""
    currency = check_currency(currency)
    wallet = ledger.find_account(session, AccountKind.wallet, user.id, currency)
    topped_up = ledger.available(wallet) if wallet is not None else 0
    if user.role == Role.merchant:
        payable = ledger.find_account(session, AccountKind.merchant_payable, user.id, currency)
        if payable is None:
            return WalletView(Money(topped_up, currency), Money.zero(currency))
        return WalletView(
            available=Money(ledger.available(payable) + topped_up, currency),
            held=Money(ledger.held_for(session, payable), currency),
        )
    if wallet is None:
        return WalletView(Money.zero(currency), Money.zero(currency))
    return WalletView(available=Money(topped_up, currency), held=Money(wallet.debits_pending, currency))


def top_up(session: Session, provider: FundingProvider, user: User, amount: Money, key: str) -> WalletView:
    """Charge the funding provider and credit the wallet with the same amount."""
    if amount.amount <= 0:
        raise InvalidInput(_("A top-up is more than zero."), field="amount")
    result = provider.charge(user.id, amount, key)
    funding = ledger.platform_account(session, AccountKind.funding, amount.currency)
    wallet = ledger.account(session, AccountKind.wallet, user.id, amount.currency)
    ledger.transfer(session, funding, wallet, amount, "topup", f"topup:{provider.name}:{result.provider_reference}")
    return wallet_view(session, user, amount.currency)
