"""Paying through a provider (Alipay, Stripe): open the trade, then settle on its verified notification.

Opening is three short steps, so no database transaction waits on the provider: record the payment, open the trade
at the provider, store what the buyer needs (a page URL or a QR code). Settling is one transaction per notice: the
money enters the buyer's wallet and, for an order, goes on into escrow, so no buyer ever sees money that arrived
and an order still unpaid. An order that expired or was cancelled meanwhile leaves the money in the wallet.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from huey import crontab
from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.commerce import disputes
from vetrina.commerce import service as orders
from vetrina.commerce.models import OrderStatus
from vetrina.context import Context
from vetrina.errors import Forbidden, VetrinaError
from vetrina.i18n import _
from vetrina.jobs import periodic_job
from vetrina.money import Money
from vetrina.payments import funding, provider_payments
from vetrina.payments.gateways import Notice, NoticeKind, Opened, PayMethod, ProviderUnavailable, TradeRequest
from vetrina.payments.models import PaymentPurpose, PaymentState, ProviderPayment

log = logging.getLogger(__name__)
S = PaymentState


def start_top_up(
    ctx: Context,
    user: User,
    amount: Money,
    provider: str,
    method: PayMethod,
    *,
    base_url: str,
    idempotency_key: str | None,
) -> ProviderPayment:
    """Open a top-up at a real provider; the wallet is credited when its notification arrives."""
    gateway = funding.gateway(ctx, provider)
    gateway.check_currency(amount.currency)
    with ctx.db.session(write=True) as session:
        payment = provider_payments.open_payment(
            session, user, provider, PaymentPurpose.topup, amount, method, idempotency_key=idempotency_key
        )
        session.expunge(payment)
    return _open_at_provider(ctx, payment, "Vetrina wallet top-up", f"{base_url}/wallet", base_url)


def start_order_payment(
    ctx: Context,
    order_id: int,
    buyer: User,
    provider: str,
    method: PayMethod,
    *,
    base_url: str,
    idempotency_key: str | None,
) -> ProviderPayment:
    """Open a payment of exactly the order's total; the sandbox settles it at once, a real provider by notice."""
    chosen = funding.chosen_provider(ctx, provider)
    with ctx.db.session(write=True) as session:
        order = orders.get_order(session, order_id, buyer)
        if order.buyer_id != buyer.id:
            raise Forbidden(_("Only the order's buyer pays it."))
        if order.status != OrderStatus.WAIT_BUYER_PAY or order.expires_at <= clock.now():
            raise orders.IllegalTransition(_("This order is not awaiting payment."), current_status=order.status)
        total = Money(order.total_amount, order.currency)
        subject = f"Vetrina order {order.id}: {order.items[0].title}"[:120]
        if chosen == "sandbox":
            return _settle_in_sandbox(ctx, session, buyer, order.id, total, idempotency_key)
        funding.gateway(ctx, chosen).check_currency(total.currency)
        payment = provider_payments.open_payment(
            session,
            buyer,
            chosen,
            PaymentPurpose.order,
            total,
            method,
            order_id=order.id,
            idempotency_key=idempotency_key,
        )
        session.expunge(payment)
    return _open_at_provider(ctx, payment, subject, f"{base_url}/orders/{order_id}", base_url)


def _settle_in_sandbox(
    ctx: Context, session: Session, buyer: User, order_id: int, total: Money, key: str | None
) -> ProviderPayment:
    """The sandbox approves at once: charged, credited and paid into escrow in this one transaction."""
    payment = provider_payments.open_payment(
        session, buyer, "sandbox", PaymentPurpose.order, total, PayMethod.page, order_id=order_id, idempotency_key=key
    )
    if payment.state == S.created:
        charged = funding.funding_provider(ctx, "sandbox").charge(buyer.id, total, payment.reference)
        payment.provider_reference = charged.provider_reference
        notice = Notice("sandbox", charged.provider_reference, NoticeKind.succeeded, payment.reference, None, total)
        _apply(ctx, session, payment, notice)
    session.flush()
    session.expunge(payment)
    return payment


def _open_at_provider(
    ctx: Context, payment: ProviderPayment, subject: str, return_url: str, base_url: str
) -> ProviderPayment:
    if payment.state != S.created or payment.pay_url or payment.qr_code:
        return payment  # a retry of a payment already opened
    trade = TradeRequest(
        reference=payment.reference,
        amount=Money(payment.amount, payment.currency),
        subject=subject,
        method=PayMethod(payment.method),
        return_url=return_url,
        notify_url=f"{base_url}/api/v1/providers/{payment.provider}/notify",
    )
    try:
        opened: Opened = funding.gateway(ctx, payment.provider).open(trade)
    except ProviderUnavailable as exc:
        with ctx.db.session(write=True) as session:
            failed = session.get_one(ProviderPayment, payment.id, with_for_update=True)
            if failed.state == S.created:
                failed.state = S.failed.value
                failed.note = _("The provider could not open the trade: {reason}", reason=exc.detail)
        raise
    with ctx.db.session(write=True) as session:
        stored = session.get_one(ProviderPayment, payment.id, with_for_update=True)
        stored.pay_url, stored.qr_code = opened.pay_url, opened.qr_code
        if opened.provider_reference and stored.provider_reference is None:
            stored.provider_reference = opened.provider_reference
        session.flush()
        session.expunge(stored)
    return stored


def verify_and_settle(ctx: Context, provider: str, headers: Mapping[str, str], body: bytes) -> list[str]:
    """A provider's notification: verified (ForgedNotification otherwise), then settled."""
    return settle(ctx, funding.gateway(ctx, provider).parse_notification(headers, body))


def settle(ctx: Context, notices: list[Notice]) -> list[str]:
    """Apply each verified notice in its own transaction; what was done with each (kept with the notice)."""
    outcomes = []
    for notice in notices:
        with ctx.db.session(write=True) as session:
            outcomes.append(settle_one(ctx, session, notice))
    return outcomes


def settle_one(ctx: Context, session: Session, notice: Notice) -> str:
    """Record the notice and act on it once; a repeat (same event id) answers what the first one did."""
    recorded = provider_payments.record_notice(session, notice)
    if recorded is None:
        return provider_payments.earlier_outcome(session, notice) or "already received"
    payment = provider_payments.payment_for_notice(session, notice)
    if payment is None:
        recorded.outcome = "unknown reference: nothing credited"
        log.warning("%s notice %s names no payment of ours", notice.provider, notice.event_id)
        return recorded.outcome
    recorded.payment_id = payment.id
    recorded.outcome = _apply(ctx, session, payment, notice)
    return recorded.outcome


def _apply(ctx: Context, session: Session, payment: ProviderPayment, notice: Notice) -> str:
    """Act on a verified notice about `payment` (row-locked by the caller)."""
    if notice.provider_reference and payment.provider_reference != notice.provider_reference:
        payment.provider_reference = notice.provider_reference  # Stripe: the PaymentIntent once it exists
    if notice.kind == NoticeKind.failed:
        if payment.state == S.created:
            payment.state, payment.settled_at = S.failed.value, clock.now()
            return "failed"
        return f"ignored: the payment is already {payment.state}"
    if notice.kind in disputes.DISPUTE_NOTICES:
        return disputes.settle_dispute(session, payment, notice)
    if notice.kind != NoticeKind.succeeded:
        return f"recorded: {notice.kind.value}"
    expected = Money(payment.amount, payment.currency)
    if notice.amount is None or notice.amount != expected:
        got = notice.amount.display() if notice.amount else "no amount"
        log.error("payment %s: the provider notified %s, not %s", payment.id, got, expected.display())
        return f"refused: notified {got}, expected {expected.display()}; nothing credited"
    if payment.state == S.succeeded:
        return "already credited"
    if payment.purpose == PaymentPurpose.order and payment.order_id is not None:
        orders.lock_order(session, payment.order_id)  # before the wallet's lock, as the buyer's own `pay` takes them
    # A failure or expiry seen first does not stop money that did arrive: credit it.
    provider_payments.credit_wallet(session, payment)
    payment.state, payment.settled_at = S.succeeded.value, clock.now()
    if payment.purpose != PaymentPurpose.order or payment.order_id is None:
        return "credited to the wallet"
    try:
        with session.begin_nested():
            orders.pay_with_arrived_money(ctx, session, payment.order_id, payment.provider)
    except VetrinaError as refused:
        orders.close_if_expired(ctx, session, payment.order_id)  # its stock goes back on sale now, not at the sweep
        payment.note = _("The order could not be paid ({reason}): the money is in your wallet.", reason=refused.detail)
        return "credited to the wallet: the order could not be paid"
    return provider_payments.PAID_THE_ORDER


@periodic_job("payments.reconcile", crontab(minute="*"))
def reconcile_pending(ctx: Context) -> None:
    """Ask the provider about payments left open past the timeout: settle what it says, expire what it does not
    know or has closed."""
    cutoff = clock.now() - timedelta(minutes=ctx.settings.provider_payment_timeout_minutes)
    with ctx.db.session() as session:
        stale = list(
            session.scalars(
                select(ProviderPayment.id).where(
                    ProviderPayment.state == S.created.value,
                    ProviderPayment.provider != "sandbox",
                    ProviderPayment.created_at <= cutoff,
                )
            )
        )
    for payment_id in stale:
        try:
            _reconcile_one(ctx, payment_id)
        except ProviderUnavailable:
            log.warning("payment %s: the provider did not answer; asking again later", payment_id)


def _reconcile_one(ctx: Context, payment_id: int) -> None:
    with ctx.db.session() as session:
        payment = session.get_one(ProviderPayment, payment_id)
        session.expunge(payment)
    notice = funding.gateway(ctx, payment.provider).query(payment)
    with ctx.db.session(write=True) as session:
        if notice is not None:
            settle_one(ctx, session, notice)
            return
        locked = session.get_one(ProviderPayment, payment_id, with_for_update=True)
        if locked.state == S.created:
            locked.state, locked.settled_at = S.expired.value, clock.now()
            locked.note = _("Not paid in time: the trade was closed.")
