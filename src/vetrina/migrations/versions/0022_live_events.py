"""live shows' events: pins, chat and its sanctions

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    show = sa.ForeignKey("live_shows.id", ondelete="CASCADE")
    moment = vetrina.db.UTCDateTime(timezone=True)
    op.create_table(
        "live_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("show_id", sa.Integer(), show, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("stream_time", moment, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", moment, nullable=False),
    )
    op.create_index("ix_live_events_show_id", "live_events", ["show_id"])
    op.create_table(
        "live_pins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("show_id", sa.Integer(), sa.ForeignKey("live_shows.id", ondelete="CASCADE"), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
        sa.Column("pinned_at", moment, nullable=False),
        sa.Column("unpinned_at", moment, nullable=True),
    )
    op.create_index("ix_live_pins_show_id", "live_pins", ["show_id"])
    op.create_table(
        "live_chat_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("show_id", sa.Integer(), sa.ForeignKey("live_shows.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("stream_time", moment, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_live_chat_messages_show_id", "live_chat_messages", ["show_id"])
    op.create_table(
        "live_chat_sanctions",
        sa.Column("show_id", sa.Integer(), sa.ForeignKey("live_shows.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("created_at", moment, nullable=False),
    )


def downgrade() -> None:
    for table in ("live_chat_sanctions", "live_chat_messages", "live_pins", "live_events"):
        op.drop_table(table)
