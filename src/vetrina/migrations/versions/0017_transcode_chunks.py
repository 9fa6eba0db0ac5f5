"""long videos are transcoded in chunks spread over the workers: a row per chunk, leased like the video

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcode_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("until_end", sa.Boolean(), nullable=False),
        sa.Column("output_key", sa.String(length=300), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("heartbeat_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("video_id", "part"),
    )
    op.create_index(op.f("ix_transcode_chunks_video_id"), "transcode_chunks", ["video_id"], unique=False)
    op.create_index(op.f("ix_transcode_chunks_status"), "transcode_chunks", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_transcode_chunks_status"), table_name="transcode_chunks")
    op.drop_index(op.f("ix_transcode_chunks_video_id"), table_name="transcode_chunks")
    op.drop_table("transcode_chunks")
