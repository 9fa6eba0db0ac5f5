"""Auto-tagging: runs and tag proposals; channels may auto-tag their videos.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autotag_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=False),
        sa.Column("catalogue_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("proposals", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("heartbeat_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("autotag_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_autotag_runs_requested_by"), ["requested_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_autotag_runs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_autotag_runs_video_id"), ["video_id"], unique=False)

    op.create_table(
        "tag_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("keyframes", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=True),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
        ),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["autotag_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["product_tags.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tag_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tag_proposals_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tag_proposals_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_tag_proposals_video_id"), ["video_id"], unique=False)

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_tag", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("auto_tag")

    with op.batch_alter_table("tag_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tag_proposals_video_id"))
        batch_op.drop_index(batch_op.f("ix_tag_proposals_state"))
        batch_op.drop_index(batch_op.f("ix_tag_proposals_run_id"))

    op.drop_table("tag_proposals")
    with op.batch_alter_table("autotag_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_autotag_runs_video_id"))
        batch_op.drop_index(batch_op.f("ix_autotag_runs_status"))
        batch_op.drop_index(batch_op.f("ix_autotag_runs_requested_by"))

    op.drop_table("autotag_runs")
