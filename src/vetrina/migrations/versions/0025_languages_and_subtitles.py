"""languages: a user's own, products' translations; videos' subtitles

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = vetrina.db.UTCDateTime(timezone=True)
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))
    op.create_table(
        "video_subtitles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("video_id", sa.Integer(), sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("storage_key", sa.String(300), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("cue_count", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.UniqueConstraint("video_id", "language", name="one_subtitle_per_language"),
    )
    op.create_index("ix_video_subtitles_video_id", "video_subtitles", ["video_id"])


def downgrade() -> None:
    op.drop_table("video_subtitles")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("translations")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
