"""Payouts: a merchant's released sales leaving for its own account, two-phase in the ledger.

Asked for, the amount is held (merchant_payable -> the platform's `payouts` account, pending, reference
`payout:<id>`), so it leaves the merchant's balance at once and can be asked for only once. Paid, the hold is posted
(the money left); failed, it is voided (the money is back on the balance). Each happens once. A payout is paid by
hand (an admin makes the bank transfer and marks it paid with its reference) or by a provider's transfer (the job
`payouts.send`, queued once the request commits, and again by `payouts.resend` while the provider cannot be reached).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from huey import crontab
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.context import Context
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound
from vetrina.i18n import _, clipped
from vetrina.jobs import job, periodic_job
from vetrina.money import Money
from vetrina.payments import ledger
from vetrina.payments.gateways import PayoutRefused, ProviderUnavailable
from vetrina.payments.idempotency import KeyReused
from vetrina.payments.models import AccountKind, LedgerAccount, Payout, PayoutAccount, PayoutState
from vetrina.payments.payout_gateways import MANUAL, payout_gateway, payout_method
from vetrina.payouts import balances
from vetrina.text import clean_text

log = logging.getLogger(__name__)
SEND_JOB = "payouts.send"
RESEND_AFTER = timedelta(minutes=5)  # a provider payout still requested this long after it was asked for
MAX_REFERENCE = 255
MAX_REASON = 2000
MAX_BANK_DETAILS = 2000
MAX_ALIPAY_FIELD = 100
STRIPE_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{1,250}")


def _only_merchants(user: User) -> None:
    if user.role != Role.merchant:
        raise Forbidden(_("Payouts are for merchants: their released sales leave to their own account."))


def _only_admins(user: User) -> None:
    if not user.is_admin:
        raise Forbidden(_("Only admins mark payouts paid or failed."))


def _payout_with_key(session: Session, merchant_id: int, key: str) -> Payout | None:
    return session.scalar(select(Payout).where(Payout.merchant_id == merchant_id, Payout.idempotency_key == key))


def _same_request(earlier: Payout, amount: Money) -> Payout:
    if (earlier.amount, earlier.currency) != (amount.amount, amount.currency):
        raise KeyReused(_("This Idempotency-Key was already used for a payout of another amount."))
    return earlier


def _destination(method: str, account: PayoutAccount | None) -> str:
    """Where it goes, fixed when asked for (for a bank payout, the bank details): a later change of account, by
    whoever took it over, does not redirect a payout already asked for."""
    if account is None:
        return ""
    if method == MANUAL:
        return account.bank_details
    found = account.alipay_identity if method == "alipay" else account.stripe_account if method == "stripe" else None
    return found or ""


def request_payout(
    ctx: Context, session: Session, merchant: User, amount: Money, *, idempotency_key: str | None = None
) -> Payout:
    """Hold `amount` of the merchant's released sales for a payout; a retry with the same key gets the first one.

    422 (`amount`) below the minimum or above what can be withdrawn now, 422 (`amount.currency`) in a currency the
    merchant has no money in."""
    _only_merchants(merchant)
    if idempotency_key is not None:
        earlier = _payout_with_key(session, merchant.id, idempotency_key)
        if earlier is not None:
            return _same_request(earlier, amount)
    currency = amount.currency
    if currency not in balances.currencies(session, merchant.id):
        raise InvalidInput(
            _("You have no money in {currency}: ask for a payout in a currency you sold in.", currency=currency),
            field="amount.currency",
        )
    minimum = Money(ctx.settings.payout_minimum, currency)
    if amount < minimum:
        raise InvalidInput(
            _("A payout is at least {minimum}.", minimum=minimum.display()), field="amount", minimum=minimum.as_json()
        )
    payable = ledger.account(session, AccountKind.merchant_payable, merchant.id, currency)
    # One payout request per merchant and currency at a time: what can be withdrawn is read under this lock.
    # Fetched, not only executed: populate_existing refreshes the row as it is loaded.
    session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.id == payable.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if idempotency_key is not None:  # a retry that waited for the lock finds the first request's payout now
        earlier = _payout_with_key(session, merchant.id, idempotency_key)
        if earlier is not None:
            return _same_request(earlier, amount)
    withdrawable = balances.merchant_balance(session, merchant.id, currency).withdrawable
    if amount > withdrawable:
        raise InvalidInput(
            _(
                "At most {amount} can be paid out now: only released sales leave, less ad spend your top-ups do not "
                "cover.",
                amount=withdrawable.display(),
            ),
            field="amount",
            withdrawable=withdrawable.as_json(),
        )
    account = session.get(PayoutAccount, merchant.id)
    method = payout_method(ctx, account, currency)
    payout = Payout(
        merchant_id=merchant.id,
        amount=amount.amount,
        currency=currency,
        method=method,
        destination=_destination(method, account),
        state=PayoutState.requested.value,
        pending_transfer_id=0,  # set below: the hold's reference needs this row's id first
        idempotency_key=idempotency_key,
        failure="",
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(payout)
    except IntegrityError:  # the same key, concurrently, for another currency's lock: the first one stands
        earlier = _payout_with_key(session, merchant.id, idempotency_key or "")
        if earlier is None:
            raise
        return _same_request(earlier, amount)
    outside = ledger.platform_account(session, AccountKind.payouts, currency)
    payout.pending_transfer_id = ledger.hold(session, payable, outside, amount, "payout", f"payout:{payout.id}").id
    if method != MANUAL:
        ctx.queue.enqueue_after_commit(session, SEND_JOB, payout.id)
    return payout


def get_payout(session: Session, payout_id: int, user: User) -> Payout:
    """The payout if it is `user`'s (or `user` is an admin); otherwise, as if it did not exist."""
    payout = session.get(Payout, payout_id)
    if payout is None or payout.merchant_id != user.id and not user.is_admin:
        raise NotFound(_("There is no payout {payout_id}.", payout_id=payout_id))
    return payout


@dataclass
class PayoutPage:
    items: list[Payout]
    total: int
    page: int
    per_page: int


def list_payouts(
    session: Session, user: User, page: int, per_page: int, state: PayoutState | None = None
) -> PayoutPage:
    """A merchant's own payouts, or every merchant's for an admin; newest first."""
    if not user.is_admin:
        _only_merchants(user)
    where: list[Any] = [] if user.is_admin else [Payout.merchant_id == user.id]
    if state is not None:
        where.append(Payout.state == state.value)
    total = session.scalar(select(func.count()).select_from(Payout).where(*where)) or 0
    rows = session.scalars(
        select(Payout).where(*where).order_by(Payout.id.desc()).limit(per_page).offset((page - 1) * per_page)
    )
    return PayoutPage(items=list(rows), total=total, page=page, per_page=per_page)


def merchant_emails(session: Session, shown: list[Payout]) -> dict[int, str]:
    """The email of each merchant whose payout is in `shown`, by merchant id (for an admin's list)."""
    ids = {payout.merchant_id for payout in shown}
    return {user_id: email for user_id, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))}


def _requested(session: Session, payout_id: int, admin: User | None) -> Payout:
    """The payout, row-locked, still waiting to be paid; 409 once it was marked (each happens once)."""
    if admin is not None:
        _only_admins(admin)
    payout = session.scalar(
        select(Payout).where(Payout.id == payout_id).with_for_update().execution_options(populate_existing=True)
    )
    if payout is None:
        raise NotFound(_("There is no payout {payout_id}.", payout_id=payout_id))
    if payout.state != PayoutState.requested:
        raise Conflict(
            _("Payout {payout_id} is already {state}.", payout_id=payout_id, state=payout.state), state=payout.state
        )
    if admin is not None and payout.method != MANUAL:
        # Marked by hand while the provider may still send it, it could leave twice, or be paid and refunded.
        raise Conflict(
            _(
                "Payout {payout_id} is sent by {method}: its transfer's outcome settles it.",
                payout_id=payout_id,
                method=payout.method,
            )
        )
    return payout


def mark_paid(ctx: Context, session: Session, payout_id: int, admin: User | None, reference: str) -> Payout:
    """The money left: post the hold. `reference` is the bank transfer's (by an admin) or the provider's (None)."""
    payout = _requested(session, payout_id, admin)
    reference = clean_text(reference, "reference", MAX_REFERENCE, required=True, label=_("reference"))
    ledger.post(session, payout.pending_transfer_id, "payout")
    payout.state = PayoutState.paid.value
    payout.provider_reference = reference
    payout.decided_by = admin.id if admin is not None else None
    payout.settled_at = clock.now()
    return payout


def mark_failed(ctx: Context, session: Session, payout_id: int, admin: User | None, reason: str) -> Payout:
    """The money did not leave (`reason` as the admin typed it): void the hold, so it is back on the merchant's
    balance."""
    payout = _requested(session, payout_id, admin)
    return _failed(session, payout, admin, clean_text(reason, "reason", MAX_REASON, required=True, label=_("reason")))


def _failed(session: Session, payout: Payout, admin: User | None, failure: str) -> Payout:
    ledger.void(session, payout.pending_transfer_id, "payout_failed")
    payout.state = PayoutState.failed.value
    payout.failure = failure
    payout.decided_by = admin.id if admin is not None else None
    payout.settled_at = clock.now()
    return payout


@job(SEND_JOB)
def send(ctx: Context, payout_id: int) -> None:
    """Send a provider payout; paid with the provider's transfer id, failed when refused, kept for a retry when
    the provider cannot be reached (the provider de-duplicates a resent payout by its id)."""
    with ctx.db.session() as session:
        payout = session.get(Payout, payout_id)
        if payout is None or payout.state != PayoutState.requested or payout.method == MANUAL:
            return
        account = session.get(PayoutAccount, payout.merchant_id)
        name = account.alipay_name if account is not None else None
    try:
        reference = payout_gateway(ctx, payout.method).pay_out(payout, payout.destination, name)
    except ProviderUnavailable as exc:
        log.warning("payout %s: %s did not answer (%s); it is resent later", payout_id, payout.method, exc.detail)
        return
    except PayoutRefused as exc:
        _settle_sent(ctx, payout_id, failure=exc.detail)
        return
    _settle_sent(ctx, payout_id, reference=reference)


def _settle_sent(ctx: Context, payout_id: int, *, reference: str = "", failure: str = "") -> None:
    try:
        with ctx.db.session(write=True) as session:
            if failure:  # the provider's refusal: a Message, kept one (translated when shown), not cleaned as typed
                _failed(session, _requested(session, payout_id, None), None, clipped(failure, MAX_REASON))
            else:
                mark_paid(ctx, session, payout_id, None, reference)
    except Conflict:
        log.info("payout %s was settled meanwhile (a provider's notification)", payout_id)


@periodic_job("payouts.resend", crontab(minute="*/10"))
def resend_due(ctx: Context) -> None:
    """Queue again the provider payouts still requested a while after they were asked for (provider down, or their
    job lost to a crash)."""
    with ctx.db.session() as session:
        due = list(
            session.scalars(
                select(Payout.id).where(
                    Payout.state == PayoutState.requested.value,
                    Payout.method != MANUAL,
                    Payout.created_at < clock.now() - RESEND_AFTER,
                )
            )
        )
    for payout_id in due:
        ctx.queue.enqueue(SEND_JOB, payout_id)


def payout_account(session: Session, merchant: User) -> PayoutAccount | None:
    _only_merchants(merchant)
    return session.get(PayoutAccount, merchant.id)


def _optional(value: str | None, field: str, limit: int) -> str | None:
    """Typed text that may be left out: None when empty."""
    return clean_text(value or "", field, limit, required=False) or None


def save_payout_account(session: Session, merchant: User, changes: dict[str, str | None]) -> PayoutAccount:
    """Set where the merchant's payouts go; only the fields in `changes` (None or "" clears one)."""
    _only_merchants(merchant)
    account = session.get(PayoutAccount, merchant.id)
    if account is None:
        account = PayoutAccount(merchant_id=merchant.id, bank_details="", updated_at=clock.now())
        session.add(account)
    if "alipay_identity" in changes:
        account.alipay_identity = _optional(changes["alipay_identity"], "alipay_identity", MAX_ALIPAY_FIELD)
    if "alipay_name" in changes:
        account.alipay_name = _optional(changes["alipay_name"], "alipay_name", MAX_ALIPAY_FIELD)
    if "stripe_account" in changes:
        stripe_account = _optional(changes["stripe_account"], "stripe_account", MAX_REFERENCE)
        if stripe_account is not None and not STRIPE_ACCOUNT.fullmatch(stripe_account):
            raise InvalidInput(_("A Stripe connected account id looks like acct_1A2b3C4d."), field="stripe_account")
        account.stripe_account = stripe_account
    if "bank_details" in changes:
        account.bank_details = _optional(changes["bank_details"], "bank_details", MAX_BANK_DETAILS) or ""
    account.updated_at = clock.now()
    session.flush()
    return account
