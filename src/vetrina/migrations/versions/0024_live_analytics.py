"""live orders' stream times, viewers per minute, highlights, and merchants' consent to partners' shows

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = vetrina.db.UTCDateTime(timezone=True)
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("source_show_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("source_stream_time", moment, nullable=True))
        batch.create_index("ix_orders_source_show_id", ["source_show_id"])
    with op.batch_alter_table("live_shows") as batch:
        batch.add_column(sa.Column("highlights_at", moment, nullable=True))
    op.create_table(
        "live_viewer_minutes",
        sa.Column("show_id", sa.Integer(), sa.ForeignKey("live_shows.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("minute", moment, primary_key=True),
        sa.Column("peak", sa.Integer(), nullable=False),
    )
    op.create_table(
        "live_highlights",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("show_id", sa.Integer(), sa.ForeignKey("live_shows.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id", ondelete="SET NULL"), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("wide_video_id", sa.Integer(), sa.ForeignKey("videos.id", ondelete="SET NULL"), nullable=True),
        sa.Column("tall_video_id", sa.Integer(), sa.ForeignKey("videos.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.UniqueConstraint("show_id", "rank", name="one_highlight_per_rank"),
    )
    op.create_index("ix_live_highlights_show_id", "live_highlights", ["show_id"])
    op.create_table(
        "live_show_merchants",
        sa.Column("show_id", sa.Integer(), sa.ForeignKey("live_shows.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_at", moment, nullable=True),
    )
    op.create_index("ix_live_show_merchants_merchant_id", "live_show_merchants", ["merchant_id"])


def downgrade() -> None:
    op.drop_table("live_show_merchants")
    op.drop_table("live_highlights")
    op.drop_table("live_viewer_minutes")
    with op.batch_alter_table("live_shows") as batch:
        batch.drop_column("highlights_at")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_source_show_id")
        batch.drop_column("source_stream_time")
        batch.drop_column("source_show_id")
