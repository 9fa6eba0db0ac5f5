"""analytics rollups

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_event_stats",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("territory", sa.String(length=2), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "video_id", "product_id", "tag_id", "territory", "type"),
    )
    op.create_table(
        "rollup_state",
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("rolled_up_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("video_id"),
    )
    op.create_table(
        "video_second_stats",
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("second", sa.Integer(), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("clicked", sa.Integer(), nullable=False),
        sa.Column("buys", sa.Integer(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("video_id", "second"),
    )


def downgrade() -> None:
    op.drop_table("video_second_stats")
    op.drop_table("rollup_state")
    op.drop_table("daily_event_stats")
