"""periodic jobs run once per deployment: a row per job and minute

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("minute", sa.String(length=16), nullable=False),
        sa.Column("created_at", vetrina.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "minute"),
    )
    op.create_index(op.f("ix_periodic_runs_created_at"), "periodic_runs", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_periodic_runs_created_at"), table_name="periodic_runs")
    op.drop_table("periodic_runs")
