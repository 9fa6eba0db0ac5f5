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
