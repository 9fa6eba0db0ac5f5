"""The ad marketplace: campaigns, their daily spend, served ads and their events, videos' ad settings.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ad_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("vast_url", sa.String(length=2000), nullable=True),
        sa.Column("bid_model", sa.String(length=8), nullable=False),
        sa.Column("bid_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("budget_total", sa.BigInteger(), nullable=False),
        sa.Column("budget_daily", sa.BigInteger(), nullable=False),
        sa.Column("spent_millis", sa.BigInteger(), nullable=False),
        sa.Column("billed", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("targeting", sa.JSON(), nullable=False),
        sa.Column("frequency_cap_count", sa.Integer(), nullable=True),
        sa.Column("frequency_cap_hours", sa.Integer(), nullable=True),
        sa.Column("skippable", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("bid_amount > 0 AND budget_total > 0 AND budget_daily > 0", name="campaign_money_positive"),
        sa.CheckConstraint("spent_millis >= 0", name="campaign_spend_not_negative"),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
        ),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("ad_campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ad_campaigns_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ad_campaigns_status"), ["status"], unique=False)

    op.create_table(
        "video_ad_settings",
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("preroll", sa.Boolean(), nullable=False),
        sa.Column("midrolls_s", sa.JSON(), nullable=False),
        sa.Column("overlays_s", sa.JSON(), nullable=False),
        sa.Column("floor_cpm", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("video_id"),
    )
    op.create_table(
        "ad_campaign_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("spent_millis", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["ad_campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "day", name="one_row_a_day"),
    )
    with op.batch_alter_table("ad_campaign_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ad_campaign_days_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "ad_decisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=32), nullable=False),
        sa.Column("viewer_key", sa.String(length=64), nullable=False),
        sa.Column("price_millis", sa.BigInteger(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["ad_campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ad_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ad_decisions_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ad_decisions_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ad_decisions_video_id"), ["video_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ad_decisions_viewer_key"), ["viewer_key"], unique=False)

    op.create_table(
        "ad_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("charged_millis", sa.BigInteger(), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["ad_decisions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("decision_id", "event", name="ad_event_once"),
    )
    with op.batch_alter_table("ad_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ad_events_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ad_events_decision_id"), ["decision_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ad_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_events_decision_id"))
        batch_op.drop_index(batch_op.f("ix_ad_events_campaign_id"))

    op.drop_table("ad_events")
    with op.batch_alter_table("ad_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_decisions_viewer_key"))
        batch_op.drop_index(batch_op.f("ix_ad_decisions_video_id"))
        batch_op.drop_index(batch_op.f("ix_ad_decisions_created_at"))
        batch_op.drop_index(batch_op.f("ix_ad_decisions_campaign_id"))

    op.drop_table("ad_decisions")
    with op.batch_alter_table("ad_campaign_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_campaign_days_campaign_id"))

    op.drop_table("ad_campaign_days")
    op.drop_table("video_ad_settings")
    with op.batch_alter_table("ad_campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_campaigns_status"))
        batch_op.drop_index(batch_op.f("ix_ad_campaigns_merchant_id"))

    op.drop_table("ad_campaigns")
