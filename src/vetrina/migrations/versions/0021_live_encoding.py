"""live encoding: a show's HLS, its encoder, its segments and its replay

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("live_shows") as batch:
        batch.add_column(sa.Column("interrupted_at", vetrina.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stream_problem", sa.String(300), nullable=True))
        batch.add_column(sa.Column("media_prefix", sa.String(200), nullable=True))
        batch.add_column(sa.Column("renditions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("encoder_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("encoder_seen_at", vetrina.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("replay_video_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("replay_made_at", vetrina.db.UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_live_shows_replay_video_id", "videos", ["replay_video_id"], ["id"], ondelete="SET NULL"
        )
    # Shows interrupted before this: their resume grace counts from their last check.
    op.execute(
        "UPDATE live_shows SET interrupted_at = COALESCE(checked_at, went_live_at, created_at) "
        "WHERE status = 'interrupted'"
    )
    op.create_table(
        "live_segments",
        sa.Column("show_id", sa.Integer(), sa.ForeignKey("live_shows.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("program_time", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("discontinuity", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("live_segments")
    with op.batch_alter_table("live_shows") as batch:
        batch.drop_constraint("fk_live_shows_replay_video_id", type_="foreignkey")
        for column in ("replay_made_at", "replay_video_id", "encoder_seen_at", "encoder_id", "renditions"):
            batch.drop_column(column)
        for column in ("media_prefix", "stream_problem", "interrupted_at"):
            batch.drop_column(column)
