"""Refunds to the source: an order paid directly through a provider is refunded back through that provider
(`alipay.trade.refund`, a Stripe Refund), not to the buyer's wallet.

The escrow refund puts the money in the buyer's wallet first (as for any order); from there a pending transfer
reserves it for the provider (wallet -> funding), posted once the provider confirms the refund, voided (the money
stays in the wallet, spendable) only on the provider's verified refusal. An unknown outcome (no answer, a busy
gateway) is asked again, with the same reference, by which the provider de-duplicates: never refunded twice.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina.context import Context
from vetrina.errors import Conflict
from vetrina.i18n import _
from vetrina.jobs import job
from vetrina.money import Money
from vetrina.payments import funding, ledger
from vetrina.payments.gateways import ProviderUnavailable, RefundRefused
from vetrina.payments.models import (
    AccountKind,
    LedgerTransfer,
    PaymentPurpose,
    PaymentState,
    ProviderPayment,
)

log = logging.getLogger(__name__)
REFUND_JOB = "payments.refund_to_source"
MAX_BACKOFF_STEPS = 8  # then once every ~2 hours, until the provider gives a verified answer


def refund_to_source(ctx: Context, session: Session, order_id: int, amount: Money, refund_reference: str) -> bool:
    """If the order was paid through a real provider, send `amount` (just refunded to the buyer's wallet) back
    through it, after commit; False when it was paid from the wallet (the money stays there)."""
    payment = session.scalar(
        select(ProviderPayment).where(
            ProviderPayment.order_id == order_id,
            ProviderPayment.purpose == PaymentPurpose.order.value,
            ProviderPayment.state == PaymentState.succeeded.value,
            ProviderPayment.provider != "sandbox",
        )
    )  # read, not locked: the caller holds the order's lock, and notices lock the payment before the order
    if payment is None or payment.note:  # a note: the money stayed in the wallet, the order was not paid with it
        return False
    wallet = ledger.account(session, AccountKind.wallet, payment.user_id, amount.currency)
    outside = ledger.platform_account(session, AccountKind.funding, amount.currency)
    # The ledger names the payment (reconciliation matches it to the provider); the provider gets the refund's own.
    reference = f"refund:{payment.id}:{refund_reference}"
    pending = ledger.hold(session, wallet, outside, amount, "refund_to_source", reference)
    ctx.queue.enqueue_after_commit(session, REFUND_JOB, payment.id, pending.id, refund_reference, 1)
    return True


@job(REFUND_JOB)
def send_refund(ctx: Context, payment_id: int, pending_id: int, refund_reference: str, attempt: int) -> None:
    """Ask the provider to refund; post the reserved money when it does, retry with backoff when it is away."""
    with ctx.db.session() as session:
        payment = session.get_one(ProviderPayment, payment_id)
        reserved = session.get_one(LedgerTransfer, pending_id)
        amount = Money(reserved.amount, reserved.currency)
        session.expunge(payment)
    try:
        funding.gateway(ctx, payment.provider).refund(payment, amount, refund_reference)
    except RefundRefused as exc:
        log.warning("refund %s: %s; the money goes back to the wallet", refund_reference, exc.detail)
        _resolve(ctx, pending_id, payment_id, amount, sent=False)
        return
    except ProviderUnavailable as exc:
        # The provider may have refunded: never void on this (the buyer would have the money twice); ask again.
        delay = 30 * 2 ** min(attempt, MAX_BACKOFF_STEPS)
        if attempt == MAX_BACKOFF_STEPS:
            log.error("refund %s: no verified answer after %s attempts; still asking", refund_reference, attempt)
        else:
            log.warning("refund %s: %s; asking again in %s s", refund_reference, exc.detail, delay)
        ctx.queue.enqueue_in(delay, REFUND_JOB, payment_id, pending_id, refund_reference, attempt + 1)
        return
    _resolve(ctx, pending_id, payment_id, amount, sent=True)


def _resolve(ctx: Context, pending_id: int, payment_id: int, amount: Money, *, sent: bool) -> None:
    with ctx.db.session(write=True) as session:
        payment = session.get_one(ProviderPayment, payment_id, with_for_update=True)
        try:
            if sent:
                ledger.post(session, pending_id, "refund_to_source")
                payment.refunded_amount += amount.amount
            else:
                ledger.void(session, pending_id, "refund_to_source_failed")
                payment.note = _(
                    "{amount} could not be refunded through {provider}: it is in the wallet.",
                    amount=amount.display(),
                    provider=payment.provider,
                )
        except Conflict:
            return  # resolved by an earlier run of this job
