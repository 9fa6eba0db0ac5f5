"""merchants' embedding origins, and sign-ins made inside an allowed site's frame of the player

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embed_origins", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("framed_origin", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("framed_merchant_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_login_sessions_framed_merchant", "users", ["framed_merchant_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_login_sessions_framed_merchant", type_="foreignkey")
        batch_op.drop_column("framed_merchant_id")
        batch_op.drop_column("framed_origin")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("embed_origins")
