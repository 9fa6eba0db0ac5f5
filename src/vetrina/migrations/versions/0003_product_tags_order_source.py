"""product tags, order source

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("box", sa.JSON(), nullable=True),
        sa.Column("keyframes", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("start_s >= 0 AND end_s > start_s", name="tag_span_forward"),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
        ),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("product_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_tags_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_tags_video_id"), ["video_id"], unique=False)

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_video_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("source_second", sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f("ix_orders_source_video_id"), ["source_video_id"], unique=False)

    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allow_merchant_tags", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_column("allow_merchant_tags")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_source_video_id"))
        batch_op.drop_column("source_second")
        batch_op.drop_column("source_video_id")

    with op.batch_alter_table("product_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_tags_video_id"))
        batch_op.drop_index(batch_op.f("ix_product_tags_product_id"))

    op.drop_table("product_tags")
