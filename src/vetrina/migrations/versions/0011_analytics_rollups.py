"""analytics rollups (read incrementally), 64-bit player event ids on PostgreSQL

Revision ID: 0011
Revises: 0010
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("player_events", "id", type_=sa.BigInteger(), existing_type=sa.Integer())
        op.execute("ALTER SEQUENCE player_events_id_seq AS bigint")  # SERIAL's sequence stops at 2**31 - 1
    op.create_table(
        "daily_event_stats",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("territory", sa.String(length=2), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "video_id", "product_id", "tag_id", "territory", "type"),
    )
    op.create_table(
        "daily_viewers",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("territory", sa.String(length=2), nullable=False),
        sa.Column("viewer_key", sa.String(length=64), nullable=False),
        sa.Column("furthest_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "video_id", "territory", "viewer_key"),
    )
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rolled_up_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # The one cursor, there from the start: a report can always lock it (see `rollups.seconds`).
    cursor = sa.table(
        "rollup_state",
        sa.column("name"),
        sa.column("last_event_id"),
        sa.column("rolled_up_at", vetrina.db.UTCDateTime()),
    )
    op.bulk_insert(cursor, [{"name": "player_events", "last_event_id": 0, "rolled_up_at": datetime.now(UTC)}])
    op.create_table(
        "video_second_stats",
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("second", sa.Integer(), nullable=False),
        sa.Column("joined", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("clicked", sa.Integer(), nullable=False),
        sa.Column("buys", sa.Integer(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("video_id", "second"),
    )
    op.create_table(
        "video_viewer_spans",
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("viewer_key", sa.String(length=64), nullable=False),
        sa.Column("first_second", sa.Integer(), nullable=False),
        sa.Column("last_second", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("video_id", "viewer_key"),
    )


def downgrade() -> None:
    op.drop_table("video_viewer_spans")
    op.drop_table("video_second_stats")
    op.drop_table("rollup_state")
    op.drop_table("daily_viewers")
    op.drop_table("daily_event_stats")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE player_events_id_seq AS integer")
        op.alter_column("player_events", "id", type_=sa.Integer(), existing_type=sa.BigInteger())
