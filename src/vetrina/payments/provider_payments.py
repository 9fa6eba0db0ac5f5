"""Payments opened at a provider: created, then credited only by the provider's verified notification.

A payment's money enters the ledger once (funding -> the buyer's wallet, reference `payment:<id>`), when the first
verified notice of its success arrives; every notice is kept (`ProviderNotice`), and a repeat of one, by its event
id, changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.errors import NotFound
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments import ledger
from vetrina.payments.gateways import Notice, PayMethod
from vetrina.payments.idempotency import KeyReused
from vetrina.payments.models import AccountKind, PaymentPurpose, PaymentState, ProviderNotice, ProviderPayment

# The outcome kept on a success notice whose money paid its order (disputes look for it).
PAID_THE_ORDER = "credited and paid the order into escrow"


def new_reference() -> str:
    """Our trade number: unguessable, so knowing one payment's tells nothing of another's."""
    return f"vp{secrets.token_hex(15)}"


def open_payment(
    session: Session,
    user: User,
    provider: str,
    purpose: PaymentPurpose,
    amount: Money,
    method: PayMethod,
    *,
    order_id: int | None = None,
    idempotency_key: str | None = None,
) -> ProviderPayment:
    """A new payment in `created`; a retry with the same idempotency key gets the first one back (409 when the
    key was used for a different payment)."""
    if idempotency_key is not None:
        earlier = session.scalar(
            select(ProviderPayment).where(
                ProviderPayment.user_id == user.id, ProviderPayment.idempotency_key == idempotency_key
            )
        )
        if earlier is not None:
            return _same_request(earlier, provider, purpose, amount, method, order_id)
    payment = ProviderPayment(
        provider=provider,
        reference=new_reference(),
        user_id=user.id,
        purpose=purpose.value,
        order_id=order_id,
        amount=amount.amount,
        currency=amount.currency,
        method=method.value,
        state=PaymentState.created.value,
        idempotency_key=idempotency_key,
        refunded_amount=0,
        disputed_amount=0,
        note="",
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(payment)
    except IntegrityError:  # the same key, concurrently: the other request's payment is the one
        earlier = session.scalars(
            select(ProviderPayment).where(
                ProviderPayment.user_id == user.id, ProviderPayment.idempotency_key == idempotency_key
            )
        ).one()
        return _same_request(earlier, provider, purpose, amount, method, order_id)
    return payment


def _same_request(
    earlier: ProviderPayment,
    provider: str,
    purpose: PaymentPurpose,
    amount: Money,
    method: PayMethod,
    order_id: int | None,
) -> ProviderPayment:
    asked = (provider, purpose.value, amount.amount, amount.currency, method.value, order_id)
    had = (earlier.provider, earlier.purpose, earlier.amount, earlier.currency, earlier.method, earlier.order_id)
    if asked != had:
        raise KeyReused(_("This Idempotency-Key was already used for a different payment."))
    return earlier


def get_payment(session: Session, payment_id: int, user: User) -> ProviderPayment:
    """The payment if it is `user`'s (or `user` is an admin); otherwise, as if it did not exist."""
    payment = session.get(ProviderPayment, payment_id)
    if payment is None or payment.user_id != user.id and not user.is_admin:
        raise NotFound(_("There is no payment {payment_id}.", payment_id=payment_id))
    return payment


@dataclass
class PaymentPage:
    items: list[ProviderPayment]
    total: int
    page: int
    per_page: int


def list_payments(
    session: Session, user: User, page: int, per_page: int, purpose: PaymentPurpose | None = None
) -> PaymentPage:
    """`user`'s provider payments, newest first."""
    where = [ProviderPayment.user_id == user.id]
    if purpose is not None:
        where.append(ProviderPayment.purpose == purpose.value)
    total = session.scalar(select(func.count()).select_from(ProviderPayment).where(*where)) or 0
    rows = session.scalars(
        select(ProviderPayment)
        .where(*where)
        .order_by(ProviderPayment.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return PaymentPage(items=list(rows), total=total, page=page, per_page=per_page)


def payment_for_notice(session: Session, notice: Notice) -> ProviderPayment | None:
    """The payment a notice is about, row-locked: by our reference, else by the provider's."""
    query = select(ProviderPayment).where(ProviderPayment.provider == notice.provider)
    if notice.reference:
        query = query.where(ProviderPayment.reference == notice.reference)
    elif notice.provider_reference:
        query = query.where(ProviderPayment.provider_reference == notice.provider_reference)
    else:
        return None
    return session.scalar(query.with_for_update().execution_options(populate_existing=True))


def record_notice(session: Session, notice: Notice) -> ProviderNotice | None:
    """Keep the notice for audit; None when this very notice (provider, event id) was recorded before."""
    row = ProviderNotice(
        provider=notice.provider,
        event_id=notice.event_id[:255],
        kind=notice.kind.value,
        amount=notice.amount.amount if notice.amount else None,
        currency=notice.amount.currency if notice.amount else None,
        outcome="",
        raw=notice.raw,
        received_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def earlier_outcome(session: Session, notice: Notice) -> str:
    """What was done with the first delivery of a repeated notice."""
    first = session.scalar(
        select(ProviderNotice).where(
            ProviderNotice.provider == notice.provider, ProviderNotice.event_id == notice.event_id[:255]
        )
    )
    return first.outcome if first else ""


def credit_wallet(session: Session, payment: ProviderPayment) -> None:
    """The payment's money into its buyer's wallet (once: the caller holds the payment's row lock)."""
    amount = Money(payment.amount, payment.currency)
    funding = ledger.platform_account(session, AccountKind.funding, payment.currency)
    wallet = ledger.account(session, AccountKind.wallet, payment.user_id, payment.currency)
    ledger.transfer(session, funding, wallet, amount, "topup", f"payment:{payment.id}")
