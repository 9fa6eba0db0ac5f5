"""flash sales, their buyers' units, and the orders placed in them

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

import vetrina.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = vetrina.db.UTCDateTime(timezone=True)
    op.create_table(
        "flash_sales",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id"), nullable=False),
        sa.Column("show_id", sa.Integer(), nullable=True),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("per_buyer", sa.Integer(), nullable=False),
        sa.Column("starts_at", moment, nullable=False),
        sa.Column("ends_at", moment, nullable=False),
        sa.Column("closed_at", moment, nullable=True),
        sa.CheckConstraint("sold >= 0 AND sold <= quantity", name="flash_sale_sold_within_quantity"),
        sa.CheckConstraint("price_amount > 0", name="flash_sale_price_positive"),
    )
    op.create_index("ix_flash_sales_merchant_id", "flash_sales", ["merchant_id"])
    op.create_index("ix_flash_sales_show_id", "flash_sales", ["show_id"])
    op.create_index("ix_flash_sales_ends_at", "flash_sales", ["ends_at"])
    op.create_table(
        "flash_sale_buyers",
        sa.Column("sale_id", sa.Integer(), sa.ForeignKey("flash_sales.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("buyer_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.CheckConstraint("units > 0", name="flash_sale_buyer_units_positive"),
    )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("flash_sale_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_orders_flash_sale_id", "flash_sales", ["flash_sale_id"], ["id"])
        batch.create_index("ix_orders_flash_sale_id", ["flash_sale_id"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_flash_sale_id")
        batch.drop_constraint("fk_orders_flash_sale_id", type_="foreignkey")
        batch.drop_column("flash_sale_id")
    op.drop_table("flash_sale_buyers")
    op.drop_table("flash_sales")
