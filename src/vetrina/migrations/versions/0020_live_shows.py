"""live shows and their stream keys

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_shows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("host_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stream_key_hash", sa.String(64), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=False),
        sa.Column("starts_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("went_live_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("publisher_addr", sa.String(64), nullable=True),
        sa.Column("publisher_id", sa.String(32), nullable=True),
        sa.Column("checked_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("stream_key_hash"),
    )
    op.create_index("ix_live_shows_host_id", "live_shows", ["host_id"])
    op.create_index("ix_live_shows_status", "live_shows", ["status"])


def downgrade() -> None:
    op.drop_table("live_shows")
