"""player events

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "player_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("viewer_key", sa.String(length=64), nullable=False),
        sa.Column("client_event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("second", sa.Float(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("tag_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("viewer_key", "client_event_id", name="one_event_per_client_id"),
    )
    with op.batch_alter_table("player_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_player_events_type"), ["type"], unique=False)
        batch_op.create_index(batch_op.f("ix_player_events_video_id"), ["video_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("player_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_player_events_video_id"))
        batch_op.drop_index(batch_op.f("ix_player_events_type"))

    op.drop_table("player_events")
