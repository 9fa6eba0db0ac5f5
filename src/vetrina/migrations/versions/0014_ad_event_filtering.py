"""ad events record why invalid traffic was not charged

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ad_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filtered_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ad_events", schema=None) as batch_op:
        batch_op.drop_column("filtered_reason")
