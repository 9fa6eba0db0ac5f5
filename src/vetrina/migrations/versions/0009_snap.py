"""Ad breaks: mid-rolls may be moved to the nearest scene cut.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("video_ad_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snap_to_scenes", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("video_ad_settings", schema=None) as batch_op:
        batch_op.drop_column("snap_to_scenes")
