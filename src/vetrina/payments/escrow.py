"""Alipay-style secured trades on the ledger: pay into escrow, release less commission, or refund."""

from __future__ import annotations

from sqlalchemy.orm import Session

from vetrina.money import Money
from vetrina.payments import ledger
from vetrina.payments.models import PLATFORM, AccountKind, LedgerAccount


def pay_into_escrow(session: Session, buyer_id: int, merchant_id: int, total: Money, reference: str) -> int:
    """Hold the buyer's money in escrow for the merchant; returns the pending transfer's id."""
    wallet = ledger.account_ref(session, AccountKind.wallet, buyer_id, total.currency)
    escrow = ledger.account_ref(session, AccountKind.escrow, PLATFORM, total.currency)
    payable = ledger.account_ref(session, AccountKind.merchant_payable, merchant_id, total.currency)
    return ledger.hold(session, wallet, escrow, total, "escrow_hold", reference, held_for=payable).id


def release_escrow(
    session: Session, pending_id: int, merchant_id: int, commission_bps: int, reference: str
) -> tuple[Money, Money]:
    """Complete the payment and pay the merchant less commission, in the caller's one transaction.

    Returns (paid to the merchant, commission)."""
    posted = ledger.post(session, pending_id, "escrow_capture")
    total = Money(posted.amount, posted.currency)
    commission = total.share_bps(commission_bps)
    net = total - commission
    escrow = ledger.platform_account(session, AccountKind.escrow, total.currency)
    if net.amount:
        payable = ledger.account(session, AccountKind.merchant_payable, merchant_id, total.currency)
        ledger.transfer(session, escrow, payable, net, "escrow_release", reference)
    if commission.amount:
        earnings = ledger.platform_account(session, AccountKind.commission, total.currency)
        ledger.transfer(session, escrow, earnings, commission, "commission", reference)
    return net, commission


def refund_from_escrow(
    session: Session, pending_id: int, refund: Money, merchant_id: int, reference: str
) -> int | None:
    """Give `refund` back to the buyer; the rest stays held. Returns the new pending id, or None when all went back.

    A pending transfer cannot shrink, so a partial refund voids it and holds the remainder afresh,
    both in the caller's transaction: the buyer never sees the money twice."""
    voided = ledger.void(session, pending_id, "escrow_refund")
    remainder = Money(voided.amount, voided.currency) - refund
    if remainder.amount == 0:
        return None
    buyer_wallet = session.get_one(LedgerAccount, voided.debit_account_id)
    return pay_into_escrow(session, buyer_wallet.owner_id, merchant_id, remainder, reference)
