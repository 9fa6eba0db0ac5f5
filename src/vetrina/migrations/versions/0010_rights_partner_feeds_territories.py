"""rights, partner feeds, territories

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=2000), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("rerun_hours", sa.Float(), nullable=True),
        sa.Column("next_run_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "source", name="one_feed_per_source"),
    )
    with op.batch_alter_table("partner_feeds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_feeds_next_run_at"), ["next_run_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_partner_feeds_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "feed_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(length=500), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("media_url", sa.String(length=2000), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=True),
        sa.Column("media_status", sa.String(length=16), nullable=False),
        sa.Column("media_error", sa.Text(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["feed_id"], ["partner_feeds.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feed_id", "guid", name="one_item_per_guid"),
    )
    with op.batch_alter_table("feed_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_items_last_run_id"), ["last_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_items_media_status"), ["media_status"], unique=False)

    op.create_table(
        "feed_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("fetch_media", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("heartbeat_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", vetrina.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["feed_id"], ["partner_feeds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feed_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_runs_feed_id"), ["feed_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_runs_status"), ["status"], unique=False)

    op.create_table(
        "licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("distributor", sa.String(length=120), nullable=False),
        sa.Column("territories", sa.JSON(), nullable=False),
        sa.Column("rest_of_world", sa.Boolean(), nullable=False),
        sa.Column("named_as", sa.JSON(), nullable=False),
        sa.Column("starts_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("for_stream", sa.Boolean(), nullable=False),
        sa.Column("for_ads", sa.Boolean(), nullable=False),
        sa.Column("for_commerce", sa.Boolean(), nullable=False),
        sa.Column("share_bps", sa.Integer(), nullable=False),
        sa.Column("from_feed", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licences_video_id"), ["video_id"], unique=False)

    op.create_table(
        "feed_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["feed_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feed_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_failures_run_id"), ["run_id"], unique=False)

    op.create_table(
        "licence_territories",
        sa.Column("licence_id", sa.Integer(), nullable=False),
        sa.Column("territory", sa.String(length=2), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["licence_id"], ["licences.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("licence_id", "territory"),
    )
    with op.batch_alter_table("licence_territories", schema=None) as batch_op:
        batch_op.create_index("ix_licence_territories_video_territory", ["video_id", "territory"], unique=False)

    with op.batch_alter_table("ad_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("territory", sa.String(length=2), nullable=True))

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("territory", sa.String(length=2), nullable=True))

    with op.batch_alter_table("player_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("territory", sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("player_events", schema=None) as batch_op:
        batch_op.drop_column("territory")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("territory")

    with op.batch_alter_table("ad_decisions", schema=None) as batch_op:
        batch_op.drop_column("territory")

    with op.batch_alter_table("licence_territories", schema=None) as batch_op:
        batch_op.drop_index("ix_licence_territories_video_territory")

    op.drop_table("licence_territories")
    with op.batch_alter_table("feed_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_failures_run_id"))

    op.drop_table("feed_failures")
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licences_video_id"))

    op.drop_table("licences")
    with op.batch_alter_table("feed_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_runs_status"))
        batch_op.drop_index(batch_op.f("ix_feed_runs_feed_id"))

    op.drop_table("feed_runs")
    with op.batch_alter_table("feed_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_items_media_status"))
        batch_op.drop_index(batch_op.f("ix_feed_items_last_run_id"))

    op.drop_table("feed_items")
    with op.batch_alter_table("partner_feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_feeds_partner_id"))
        batch_op.drop_index(batch_op.f("ix_partner_feeds_next_run_at"))

    op.drop_table("partner_feeds")
