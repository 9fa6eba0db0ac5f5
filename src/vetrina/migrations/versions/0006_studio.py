"""The studio: uploaded images and music, spots; channel brand colours and banner.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studio_assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("studio_assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studio_assets_merchant_id"), ["merchant_id"], unique=False)

    op.create_table(
        "studio_spots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("heartbeat_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("render_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("studio_spots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studio_spots_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_studio_spots_status"), ["status"], unique=False)

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brand_color", sa.String(length=7), server_default="#1e293b", nullable=False))
        batch_op.add_column(sa.Column("text_color", sa.String(length=7), server_default="#ffffff", nullable=False))
        batch_op.add_column(sa.Column("banner_key", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("banner_key")
        batch_op.drop_column("text_color")
        batch_op.drop_column("brand_color")

    with op.batch_alter_table("studio_spots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studio_spots_status"))
        batch_op.drop_index(batch_op.f("ix_studio_spots_merchant_id"))

    op.drop_table("studio_spots")
    with op.batch_alter_table("studio_assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studio_assets_merchant_id"))

    op.drop_table("studio_assets")
