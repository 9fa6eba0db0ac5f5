"""API tokens expire

Revision ID: 0013
Revises: 0012
"""

import os
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _token_ttl_days() -> int:
    # The operator's VETRINA_TOKEN_TTL_DAYS if set (the migration runs without the app's Settings), else 90.
    try:
        return max(1, int(os.environ.get("VETRINA_TOKEN_TTL_DAYS", "90")))
    except ValueError:
        return 90


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", vetrina.db.UTCDateTime(timezone=True), nullable=True))
    # Tokens made before expiry existed get the lifetime new ones get, counted from when they were made.
    tokens = sa.table(
        "api_tokens",
        sa.column("id", sa.Integer()),
        sa.column("created_at", vetrina.db.UTCDateTime(timezone=True)),
        sa.column("expires_at", vetrina.db.UTCDateTime(timezone=True)),
    )
    connection = op.get_bind()
    ttl = timedelta(days=_token_ttl_days())
    for token_id, created_at in connection.execute(sa.select(tokens.c.id, tokens.c.created_at)).all():
        connection.execute(tokens.update().where(tokens.c.id == token_id).values(expires_at=created_at + ttl))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=vetrina.db.UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
