"""channels

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("handle"),
        sa.UniqueConstraint("merchant_id"),
    )
    op.create_table(
        "channel_follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id", "user_id", name="follow_once"),
    )
    with op.batch_alter_table("channel_follows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_follows_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_follows_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_follows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_follows_user_id"))
        batch_op.drop_index(batch_op.f("ix_channel_follows_channel_id"))

    op.drop_table("channel_follows")
    op.drop_table("channels")
