"""idempotency keys are written once, with their answer: claims left unfinished by the old two-step code go

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A claim without an answer was a request that died mid-way: its work rolled back, so a retry may run afresh.
    op.execute("DELETE FROM idempotency_keys WHERE NOT done")


def downgrade() -> None:
    pass  # nothing to restore: the deleted claims held no answer
