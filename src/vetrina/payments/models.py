"""Tables of the payments domain."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from vetrina.db import Base, StoredText, UTCDateTime


class AccountKind(enum.StrEnum):
    wallet = "wallet"  # a user's spendable money
    merchant_payable = "merchant_payable"  # what has been released to a merchant
    escrow = "escrow"  # the platform holding buyers' payments until they confirm
    commission = "commission"  # the platform's earnings
    funding = "funding"  # the outside world: top-ups come from here, so it may go negative
    advertising = "advertising"  # the platform's earnings from ad campaigns
    payouts = "payouts"  # the outside world again: merchants' money paid out to them
    disputes = "disputes"  # the platform holding money a provider's dispute froze, until it is resolved


PLATFORM = 0  # owner_id of the platform's own accounts


class LedgerAccount(Base):
    """An account's running totals; each is also the sum of its transfers (the ledger check proves it)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner_id", "currency", name="one_account_per_kind_owner_currency"),
        CheckConstraint(
            "NOT no_overdraft OR credits_posted - debits_posted - debits_pending >= 0", name="no_overdraft"
        ),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name="totals_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    no_overdraft: Mapped[bool] = mapped_column(Boolean)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TransferPhase(enum.StrEnum):
    posted = "posted"
    pending = "pending"  # reserved: counts against the debit account, not yet moved
    post_pending = "post_pending"  # completes a pending transfer
    void_pending = "void_pending"  # cancels a pending transfer


class LedgerTransfer(Base):
    """An immutable movement of `amount` from the debit account to the credit account."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_different_accounts"),
        CheckConstraint(
            "(phase IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL)", name="resolution_names_pending"
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    phase: Mapped[str] = mapped_column(String(16))
    # A pending transfer is resolved (posted or voided) at most once: the database says so.
    pending_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True, nullable=True)
    # The account a pending escrow transfer is held for (a merchant's payable account).
    held_for_account_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdempotencyKey(Base):
    """One request per (user, key): its fingerprint, and once done, its response (IETF httpapi draft)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="one_request_per_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # keys expire (idempotency.expire)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(StoredText(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PaymentPurpose(enum.StrEnum):
    topup = "topup"  # credits the buyer's wallet
    order = "order"  # credits the wallet and pays the order into escrow, in one transaction


class PaymentState(enum.StrEnum):
    created = "created"  # the trade is open at the provider; nothing credited yet
    succeeded = "succeeded"  # the verified notification came: credited
    failed = "failed"
    expired = "expired"  # left unpaid past VETRINA_PROVIDER_PAYMENT_TIMEOUT_MINUTES, and the provider agrees


class ProviderPayment(Base):
    """A payment opened at a provider (Alipay, Stripe), credited only when its verified notification arrives."""

    __tablename__ = "provider_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="provider_payment_amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="provider_refund_within_amount"),
        UniqueConstraint("user_id", "idempotency_key", name="one_provider_payment_per_user_key"),
        UniqueConstraint("provider", "provider_reference", name="one_payment_per_provider_reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    # Ours, sent to the provider (Alipay's out_trade_no, Stripe's client_reference_id): unguessable, unique.
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    # Theirs (Alipay's trade_no, Stripe's Checkout Session id, then its PaymentIntent id), once known.
    provider_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(8))
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(8))  # page (a redirect) or qr (scanned with a phone)
    state: Mapped[str] = mapped_column(String(10), index=True)
    pay_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    qr_code: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    disputed_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # frozen while a dispute is open
    # What happened that the buyer should know (e.g. the order expired, so the money stayed in the wallet).
    note: Mapped[str] = mapped_column(StoredText(), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ProviderNotice(Base):
    """Every verified notification a provider sent, kept whole for audit; a repeat of one is recognised by its id."""

    __tablename__ = "provider_notices"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="one_notice_per_provider_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(24))
    payment_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    payout_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    outcome: Mapped[str] = mapped_column(Text, default="")  # what Vetrina did with it
    raw: Mapped[Any] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PayoutState(enum.StrEnum):
    requested = "requested"  # held in the ledger (merchant -> payouts, pending)
    paid = "paid"  # posted: the money left
    failed = "failed"  # voided: the money is back on the merchant's balance


class Payout(Base):
    """Released sales leaving for the merchant's own account: by a provider's transfer, or by hand."""

    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="payout_amount_positive"),
        UniqueConstraint("merchant_id", "idempotency_key", name="one_payout_per_merchant_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(8))  # alipay, stripe or manual (a bank transfer an admin makes)
    destination: Mapped[str] = mapped_column(Text, default="")  # an account id, or bank details for a bank payout
    state: Mapped[str] = mapped_column(String(10), index=True)
    pending_transfer_id: Mapped[int] = mapped_column(Integer)
    provider_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    failure: Mapped[str] = mapped_column(StoredText(), default="")
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AdminCredit(Base):
    """Money received outside any provider (a bank transfer), credited by an admin; one per reference."""

    __tablename__ = "admin_credits"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    credited_by: Mapped[str] = mapped_column(String(255))  # "user 7 (admin@example.com)" or "cli (root)"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PayoutAccount(Base):
    """Where a merchant's payouts go: an Alipay account (login id) or a Stripe connected account; none: by hand."""

    __tablename__ = "payout_accounts"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    alipay_identity: Mapped[str | None] = mapped_column(String(100), nullable=True)
    alipay_name: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the real name Alipay checks
    stripe_account: Mapped[str | None] = mapped_column(String(255), nullable=True)  # acct_...
    bank_details: Mapped[str] = mapped_column(Text, default="")  # for a payout by hand: the CSV for the bank
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
