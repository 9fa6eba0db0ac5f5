"""Disputes: a charge the buyer's bank disputes (Stripe's `charge.dispute.created`) is frozen until it is resolved.

Where the payment's money is decides how it is frozen (reference `dispute:<payment id>` in the ledger):
- still in escrow for the order it paid: nothing moves, but the order is not released to the merchant, nor
  refunded, while the dispute is open (`refuse_while_disputed`, called by commerce.service);
- released to the merchant, or in a wallet (a top-up, or an order the money could not pay): held, a pending
  transfer from that account to the platform's `disputes` account, as far as the account holds it.
Won: the hold is voided, the order may be released again. Lost: the bank took the money back through the
provider, so it leaves through the `funding` account: the escrowed order is refunded out of escrow (and closed
when nothing is left of it), the hold is posted and moved on, and whatever was not frozen is taken from what the
account holds by then. What could not be recovered at all is said in the outcome: the platform bears it.
`payment.disputed_amount` is what is frozen while the dispute is open.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from vetrina import clock
from vetrina.catalog import service as catalog
from vetrina.commerce.models import Order, OrderEvent, OrderStatus
from vetrina.errors import Conflict
from vetrina.i18n import _, clipped
from vetrina.money import Money
from vetrina.payments import escrow, ledger, provider_payments
from vetrina.payments.gateways import Notice, NoticeKind
from vetrina.payments.models import (
    AccountKind,
    LedgerAccount,
    LedgerTransfer,
    PaymentPurpose,
    ProviderNotice,
    ProviderPayment,
    TransferPhase,
)

DISPUTE_NOTICES = frozenset({NoticeKind.dispute_opened, NoticeKind.dispute_won, NoticeKind.dispute_lost})
RESOLUTIONS = (NoticeKind.dispute_won.value, NoticeKind.dispute_lost.value)


class DisputeOpen(Conflict):
    slug, title = "dispute-open", _("A payment dispute is open")


def refuse_while_disputed(session: Session, order: Order) -> None:
    """DisputeOpen while a dispute freezes this order's money in escrow: it may be neither released nor refunded."""
    frozen = frozen_in_escrow(session, order.id)
    if frozen:
        raise DisputeOpen(
            _(
                "The buyer's bank disputes this order's payment: {amount} stays in escrow until the dispute is "
                "resolved.",
                amount=frozen.display(),
            ),
            order_id=order.id,
        )


def frozen_in_escrow(session: Session, order_id: int) -> Money | None:
    """What open disputes freeze in this order's escrow (None when nothing)."""
    disputed = session.scalars(
        select(ProviderPayment).where(ProviderPayment.order_id == order_id, ProviderPayment.disputed_amount > 0)
    )
    # A dispute frozen by a hold is frozen elsewhere (the merchant's balance, a wallet), not in this escrow.
    in_escrow = [p for p in disputed if _open_hold(session, p) is None]
    if not in_escrow:
        return None
    return Money(sum(p.disputed_amount for p in in_escrow), in_escrow[0].currency)


def settle_dispute(session: Session, payment: ProviderPayment, notice: Notice) -> str:
    """Act on a verified dispute notice about `payment` (row-locked by the caller); what was done."""
    payment_amount = Money(payment.amount, payment.currency)
    if notice.amount is None or notice.amount.currency != payment.currency:
        got = notice.amount.display() if notice.amount else "no amount"
        return f"refused: the dispute is for {got}, the payment was {payment_amount.display()}; nothing frozen"
    if notice.amount.amount <= 0:
        return "refused: the dispute names no amount; nothing frozen"
    disputed = min(notice.amount, payment_amount)
    if _earlier(session, payment, notice, RESOLUTIONS):
        return f"ignored: this payment's dispute was already resolved ({notice.kind.value} arrived after)"
    where = _where(session, payment)
    if notice.kind == NoticeKind.dispute_opened:
        if _earlier(session, payment, notice, (NoticeKind.dispute_opened.value,)):
            return "already frozen"
        return _open(session, payment, disputed, where)
    if notice.kind == NoticeKind.dispute_won:
        return _won(session, payment, where)
    return _lost(session, payment, disputed, where)


@dataclass
class _Where:
    """Where the payment's money is now."""

    order: Order | None  # the order it paid, still holding it in escrow
    account: LedgerAccount  # else the account it sits in (the merchant's balance or a wallet)
    whose: str


def _where(session: Session, payment: ProviderPayment) -> _Where:
    order = _order_it_paid(session, payment)
    if order is not None and order.escrow_transfer_id is not None:
        buyer_wallet = ledger.account(session, AccountKind.wallet, order.buyer_id, payment.currency)
        return _Where(order, buyer_wallet, f"order {order.id}'s escrow")
    if order is not None and order.status == OrderStatus.TRADE_FINISHED:
        payable = ledger.account(session, AccountKind.merchant_payable, order.merchant_id, payment.currency)
        return _Where(None, payable, f"the merchant's balance (order {order.id} was released)")
    return _Where(None, _credited_account(session, payment), "the wallet it credited")


def _order_it_paid(session: Session, payment: ProviderPayment) -> Order | None:
    """The order this payment's money went on to pay, row-locked; None for a top-up or money left in the wallet."""
    if payment.purpose != PaymentPurpose.order or payment.order_id is None:
        return None
    paid_it = session.scalar(
        select(ProviderNotice.id).where(
            ProviderNotice.payment_id == payment.id,
            ProviderNotice.kind == NoticeKind.succeeded.value,
            ProviderNotice.outcome == provider_payments.PAID_THE_ORDER,
        )
    )
    if paid_it is None:
        return None
    query = select(Order).where(Order.id == payment.order_id).with_for_update()
    return session.scalar(query.execution_options(populate_existing=True))


def _credited_account(session: Session, payment: ProviderPayment) -> LedgerAccount:
    """The account the payment's money entered (a buyer's wallet, or wherever crediting puts a merchant's)."""
    credit = session.scalar(
        select(LedgerTransfer.credit_account_id)
        .where(LedgerTransfer.reference == f"payment:{payment.id}", LedgerTransfer.phase == TransferPhase.posted)
        .order_by(LedgerTransfer.id)
        .limit(1)
    )
    if credit is not None:
        return session.get_one(LedgerAccount, credit)
    return ledger.account(session, AccountKind.wallet, payment.user_id, payment.currency)


def _reference(payment: ProviderPayment) -> str:
    return f"dispute:{payment.id}"


def _open_hold(session: Session, payment: ProviderPayment) -> LedgerTransfer | None:
    resolution = aliased(LedgerTransfer)
    return session.scalar(
        select(LedgerTransfer)
        .outerjoin(resolution, resolution.pending_id == LedgerTransfer.id)
        .where(
            LedgerTransfer.reference == _reference(payment),
            LedgerTransfer.phase == TransferPhase.pending.value,
            resolution.id.is_(None),
        )
    )


def _earlier(session: Session, payment: ProviderPayment, notice: Notice, kinds: tuple[str, ...]) -> bool:
    """Whether another notice of these kinds came for this payment before (Stripe allows one dispute per charge)."""
    return (
        session.scalar(
            select(ProviderNotice.id).where(
                ProviderNotice.payment_id == payment.id,
                ProviderNotice.provider == notice.provider,
                ProviderNotice.kind.in_(kinds),
                ProviderNotice.event_id != notice.event_id[:255],
            )
        )
        is not None
    )


def _escrowed(session: Session, order: Order) -> Money:
    assert order.escrow_transfer_id is not None
    pending = session.get_one(LedgerTransfer, order.escrow_transfer_id)
    return Money(pending.amount, pending.currency)


def _note_on(order: Order, action: str, note: str, to: OrderStatus | None = None) -> None:
    previous = order.status
    if to is not None:
        order.status = to.value
    order.history.append(
        OrderEvent(
            from_status=previous,
            to_status=order.status,
            action=action,
            actor_id=None,
            note=clipped(note, 1000),
            at=clock.now(),
        )
    )


def _open(session: Session, payment: ProviderPayment, disputed: Money, where: _Where) -> str:
    if where.order is not None:
        frozen = min(disputed, _escrowed(session, where.order))
        payment.disputed_amount = frozen.amount
        _note_on(
            where.order,
            "dispute_opened",
            _(
                "The buyer's bank disputes {disputed} of the payment: {frozen} stays in escrow, not released, until "
                "the dispute is resolved.",
                disputed=disputed.display(),
                frozen=frozen.display(),
            ),
        )
        return f"dispute opened: {frozen.display()} frozen in {where.whose}"
    frozen = Money(min(disputed.amount, max(ledger.available(where.account), 0)), disputed.currency)
    if frozen.amount:
        platform = ledger.platform_account(session, AccountKind.disputes, payment.currency)
        ledger.hold(session, where.account, platform, frozen, "dispute_hold", _reference(payment))
    payment.disputed_amount = frozen.amount
    outcome = f"dispute opened: {frozen.display()} of {disputed.display()} frozen in {where.whose}"
    if frozen < disputed:
        outcome += f"; it held only {frozen.display()}"
    return outcome


def _won(session: Session, payment: ProviderPayment, where: _Where) -> str:
    frozen = Money(payment.disputed_amount, payment.currency)
    payment.disputed_amount = 0
    hold = _open_hold(session, payment)
    if hold is not None:
        ledger.void(session, hold.id, "dispute_won")
        return f"dispute won: {frozen.display()} unfrozen in {where.whose}"
    if where.order is not None:
        _note_on(
            where.order,
            "dispute_won",
            _("The dispute was won: {amount} may be released again.", amount=frozen.display()),
        )
        return f"dispute won: {frozen.display()} unfrozen in {where.whose}"
    return "dispute won: nothing was frozen"


def _lost(session: Session, payment: ProviderPayment, disputed: Money, where: _Where) -> str:
    """The money went back to the buyer's bank: it leaves through `funding`, from wherever it is now."""
    funding = ledger.platform_account(session, AccountKind.funding, payment.currency)
    reference = _reference(payment)
    payment.disputed_amount = 0
    taken = Money.zero(payment.currency)
    if where.order is not None:
        taken = min(disputed, _escrowed(session, where.order))
        _refund_out_of_escrow(session, where.order, taken)
        ledger.transfer(session, where.account, funding, taken, "dispute_lost", reference)
    hold = _open_hold(session, payment)
    if hold is not None:
        ledger.post(session, hold.id, "dispute_lost")
        held = Money(hold.amount, hold.currency)
        platform = ledger.platform_account(session, AccountKind.disputes, payment.currency)
        ledger.transfer(session, platform, funding, held, "dispute_lost", reference)
        taken = taken + held
    rest = disputed - taken
    more = Money(min(rest.amount, max(ledger.available(where.account), 0)), rest.currency)
    if more.amount > 0:  # not frozen at the time (the account held less), but there by now
        ledger.transfer(session, where.account, funding, more, "dispute_lost", reference)
        taken = taken + more
    outcome = f"dispute lost: {taken.display()} went back to the buyer's bank from {where.whose}"
    if taken < disputed:
        outcome += f"; {(disputed - taken).display()} could not be recovered: the platform bears it"
    return outcome


def _refund_out_of_escrow(session: Session, order: Order, amount: Money) -> None:
    """The disputed part of the order goes back to the buyer's wallet (and on to the bank); nothing left: closed."""
    assert order.escrow_transfer_id is not None
    order.escrow_transfer_id = escrow.refund_from_escrow(
        session, order.escrow_transfer_id, amount, order.merchant_id, f"order:{order.id}"
    )
    order.refunded_amount += amount.amount
    note = _("The dispute was lost: {amount} went back to the buyer's bank.", amount=amount.display())
    if order.escrow_transfer_id is not None:
        _note_on(order, "dispute_lost", note)
        return
    if order.shipped_at is None:  # nothing left the shelf
        for item in order.items:
            catalog.release_stock(session, item.product_id, item.variant_id, item.quantity)
    order.finished_at = clock.now()
    order.auto_confirm_at = None
    _note_on(order, "dispute_lost", note, OrderStatus.TRADE_CLOSED)
