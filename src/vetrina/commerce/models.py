"""Tables of the commerce domain."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vetrina.db import Base, StoredText, UTCDateTime
from vetrina.payments.models import ProviderPayment


class OrderStatus(enum.StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    WAIT_SELLER_SEND_GOODS = "WAIT_SELLER_SEND_GOODS"
    WAIT_BUYER_CONFIRM_GOODS = "WAIT_BUYER_CONFIRM_GOODS"
    TRADE_FINISHED = "TRADE_FINISHED"
    TRADE_CLOSED = "TRADE_CLOSED"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_amount > 0", name="order_total_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= total_amount", name="refund_within_total"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # The ledger's pending transfer holding this order's money in escrow, while there is one.
    escrow_transfer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    carrier: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tracking: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Where the order came from: the video and the second of it the viewer was watching.
    source_video_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    source_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    flash_sale_id: Mapped[int | None] = mapped_column(ForeignKey("flash_sales.id"), nullable=True, index=True)
    # Bought during a live show: the show, and the stream time on the buyer's screen then (its selling moments).
    source_show_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    source_stream_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    territory: Mapped[str | None] = mapped_column(String(2), nullable=True)  # where the buyer was
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    auto_confirm_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    items: Mapped[list[OrderItem]] = relationship(order_by="OrderItem.id", cascade="all, delete-orphan")
    history: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan")
    refunds: Mapped[list[RefundRequest]] = relationship(order_by="RefundRequest.id", cascade="all, delete-orphan")
    # Payments opened at a provider for this order (read only: checkout writes them).
    provider_payments: Mapped[list[ProviderPayment]] = relationship(
        primaryjoin="Order.id == foreign(ProviderPayment.order_id)", order_by="ProviderPayment.id", viewonly=True
    )


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="item_quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("product_variants.id"), nullable=True)
    # What was bought, as it was then: later edits to the product do not rewrite orders.
    title: Mapped[str] = mapped_column(String(300))
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)


class OrderEvent(Base):
    """One step of an order's state history."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(StoredText(), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class RefundStatus(enum.StrEnum):
    requested = "requested"
    accepted = "accepted"
    rejected = "rejected"


class RefundRequest(Base):
    __tablename__ = "refund_requests"
    __table_args__ = (CheckConstraint("amount > 0", name="refund_amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class FlashSale(Base):
    """A time-limited offer: `quantity` units of one product taken out of its stock when the sale opens, sold at
    `price_amount` to at most `per_buyer` units each until `ends_at` or until sold out; what is left goes back to
    the product's stock when it closes. Started from a live show (`show_id`) or on its own."""

    __tablename__ = "flash_sales"
    __table_args__ = (
        CheckConstraint("sold >= 0 AND sold <= quantity", name="flash_sale_sold_within_quantity"),
        CheckConstraint("price_amount > 0", name="flash_sale_price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    show_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    quantity: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    per_buyer: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # unsold units returned


class FlashSaleBuyer(Base):
    """How many units of a sale one buyer has ordered: the per-buyer limit, held by the database."""

    __tablename__ = "flash_sale_buyers"
    __table_args__ = (CheckConstraint("units > 0", name="flash_sale_buyer_units_positive"),)

    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id", ondelete="CASCADE"), primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    units: Mapped[int] = mapped_column(Integer)
