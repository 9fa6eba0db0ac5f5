"""provider payments, payouts, admin credits

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("payout_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("received_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "event_id", name="one_notice_per_provider_event"),
    )
    with op.batch_alter_table("provider_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_notices_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_provider_notices_payout_id"), ["payout_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_provider_notices_received_at"), ["received_at"], unique=False)

    op.create_table(
        "admin_credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("credited_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("admin_credits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_credits_user_id"), ["user_id"], unique=False)

    op.create_table(
        "payout_accounts",
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("alipay_identity", sa.String(length=100), nullable=True),
        sa.Column("alipay_name", sa.String(length=100), nullable=True),
        sa.Column("stripe_account", sa.String(length=255), nullable=True),
        sa.Column("bank_details", sa.Text(), nullable=False),
        sa.Column("updated_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("pending_transfer_id", sa.Integer(), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("failure", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name="payout_amount_positive"),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("merchant_id", "idempotency_key", name="one_payout_per_merchant_key"),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payouts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_payouts_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payouts_state"), ["state"], unique=False)

    op.create_table(
        "provider_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("pay_url", sa.Text(), nullable=True),
        sa.Column("qr_code", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("disputed_amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name="provider_payment_amount_positive"),
        sa.CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="provider_refund_within_amount"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "provider_reference", name="one_payment_per_provider_reference"),
        sa.UniqueConstraint("reference"),
        sa.UniqueConstraint("user_id", "idempotency_key", name="one_provider_payment_per_user_key"),
    )
    with op.batch_alter_table("provider_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_payments_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_provider_payments_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_provider_payments_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_provider_payments_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("provider_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_payments_user_id"))
        batch_op.drop_index(batch_op.f("ix_provider_payments_state"))
        batch_op.drop_index(batch_op.f("ix_provider_payments_order_id"))
        batch_op.drop_index(batch_op.f("ix_provider_payments_created_at"))

    op.drop_table("provider_payments")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payouts_state"))
        batch_op.drop_index(batch_op.f("ix_payouts_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_payouts_created_at"))

    op.drop_table("payouts")
    op.drop_table("payout_accounts")
    with op.batch_alter_table("admin_credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_credits_user_id"))

    op.drop_table("admin_credits")
    with op.batch_alter_table("provider_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_notices_received_at"))
        batch_op.drop_index(batch_op.f("ix_provider_notices_payout_id"))
        batch_op.drop_index(batch_op.f("ix_provider_notices_payment_id"))

    op.drop_table("provider_notices")
