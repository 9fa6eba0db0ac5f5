"""Orders as Alipay-style secured trades.

WAIT_BUYER_PAY --pay--> WAIT_SELLER_SEND_GOODS --ship--> WAIT_BUYER_CONFIRM_GOODS --confirm--> TRADE_FINISHED
and TRADE_CLOSED for unpaid orders that expire or are cancelled, and for fully refunded ones.
Each step locks the order row, checks the state, moves money and stock, records the step in the
order's history and emits the merchant's webhook event, all in the caller's one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.catalog import service as catalog
from vetrina.commerce import disputes, flash
from vetrina.commerce.models import Order, OrderEvent, OrderItem, OrderStatus, RefundRequest, RefundStatus
from vetrina.context import Context
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound, VetrinaError
from vetrina.i18n import _, clipped
from vetrina.media.models import Video
from vetrina.money import Money
from vetrina.payments import escrow, source_refunds, webhooks
from vetrina.rights import service as rights
from vetrina.text import clean_text

MAX_ITEMS = 50
MAX_QUANTITY = 1000
# Each open request pauses auto-confirm; a cap keeps a buyer from pausing it for ever.
MAX_REFUND_REQUESTS = 3
S = OrderStatus


class IllegalTransition(Conflict):
    slug, title = "illegal-transition", _("Not possible in the order's current state")


@dataclass(frozen=True)
class ItemSpec:
    product_id: int
    quantity: int
    variant_id: int | None = None


def _event_row(
    order_id: int, from_status: str | None, to_status: str, action: str, actor: User | None, note: str, at: datetime
) -> dict[str, Any]:
    """One step of an order's history, as its row: for the unit of work (`_record`) and for Core (checkout)."""
    return {
        "order_id": order_id,
        "from_status": from_status,
        "to_status": to_status,
        "action": action,
        "actor_id": actor.id if actor else None,
        "note": clipped(note, 1000),
        "at": at,
    }


def _record(order: Order, to: OrderStatus | None, action: str, actor: User | None, note: str = "") -> None:
    previous = order.status
    if to is not None:
        order.status = to.value
    order.history.append(OrderEvent(**_event_row(order.id, previous, order.status, action, actor, note, clock.now())))


def _emit(ctx: Context, session: Session, order: Order, event_type: str) -> None:
    webhooks.emit(ctx, session, order.merchant_id, event_type, order_summary(order))


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "status": order.status,
        "total": {"amount": order.total_amount, "currency": order.currency},
        "refunded": {"amount": order.refunded_amount, "currency": order.currency},
        "buyer_id": order.buyer_id,
    }


@dataclass(frozen=True)
class OrderSource:
    """The video, and the second of it, that the buyer was watching when ordering."""

    video_id: int
    second: float


@dataclass(frozen=True)
class LiveSource:
    """The live show, and the stream time on the buyer's screen, that the buyer was watching when ordering."""

    show_id: int
    stream_time: datetime


def create_order(
    ctx: Context,
    session: Session,
    buyer: User,
    items: list[ItemSpec],
    *,
    territory: str,
    source: OrderSource | None = None,
    live_source: LiveSource | None = None,
    flash_sale_id: int | None = None,
) -> Order:
    """Reserve stock for every item and open an order awaiting payment (one merchant, one currency). An order
    from a licensed video needs its licence for commerce where the buyer is (`territory`). An order in a flash
    sale (`flash_sale_id`) holds the sale's product alone, at the sale's price, reserved until the sale's end and
    its grace."""
    if not items:
        raise InvalidInput(_("An order has at least one item."), field="items")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(_("An order has at most {max} items.", max=MAX_ITEMS), field="items")
    for spec in items:
        if not 1 <= spec.quantity <= MAX_QUANTITY:
            raise InvalidInput(_("Quantities are 1 to {max}.", max=MAX_QUANTITY), field="items.quantity")
    if source is not None and session.get(Video, source.video_id) is None:
        raise InvalidInput(
            _("There is no video {video_id} to order from.", video_id=source.video_id), field="source.video_id"
        )
    if source is not None:
        rights.require(ctx, session, source.video_id, territory, "commerce", buyer)
    # Reserve in a fixed order (product, variant) so concurrent orders lock rows in the same sequence. Each
    # reservation reads the product as it takes the stock; anything refused below rolls them all back.
    ordered = sorted(items, key=lambda s: (s.product_id, s.variant_id or 0))
    lines: list[catalog.Reserved] = []
    now = clock.now()
    expires_at = now + timedelta(minutes=ctx.settings.order_ttl_minutes)
    if flash_sale_id is not None:
        if len(items) != 1 or items[0].variant_id is not None:
            raise InvalidInput(_("An order in a flash sale holds one item: the sale's product."), field="items")
        spec = items[0]
        grace = ctx.settings.flash_sale_grace_minutes
        taken = flash.take(session, flash_sale_id, buyer, spec.product_id, spec.quantity, grace)
        lines.append(
            catalog.Reserved(spec.product_id, None, taken.merchant_id, taken.currency, taken.unit_amount, taken.title)
        )
        expires_at = taken.reserved_until
    for spec in ordered if flash_sale_id is None else []:
        try:
            lines.append(catalog.reserve_stock(session, spec.product_id, spec.variant_id, spec.quantity))
        except VetrinaError as refused:
            refused.wrote_nothing = not lines  # a sold-out product refuses most buyers right here
            raise
    merchants = {line.merchant_id for line in lines}
    currencies = {line.currency for line in lines}
    if len(merchants) > 1:
        raise InvalidInput(_("An order holds one merchant's products; place one order per merchant."), field="items")
    if len(currencies) > 1:
        raise InvalidInput(_("An order is in one currency."), field="items")
    merchant_id = merchants.pop()
    if merchant_id == buyer.id:
        raise InvalidInput(_("You cannot buy your own products."), field="items")
    row = {
        "buyer_id": buyer.id,
        "merchant_id": merchant_id,
        "status": S.WAIT_BUYER_PAY.value,
        "currency": currencies.pop(),
        "total_amount": sum(line.unit_amount * spec.quantity for line, spec in zip(lines, ordered, strict=True)),
        "refunded_amount": 0,
        "commission_amount": 0,
        "created_at": now,
        "expires_at": expires_at,
        "source_video_id": source.video_id if source else None,
        "source_second": round(source.second, 3) if source else None,
        "source_show_id": live_source.show_id if live_source else None,
        "source_stream_time": live_source.stream_time if live_source else None,
        "territory": territory,
        "flash_sale_id": flash_sale_id,
    }
    order_id = session.execute(_INSERT_ORDER, row).scalar_one()
    lines_written = [
        {
            "order_id": order_id,
            "product_id": line.product_id,
            "variant_id": line.variant_id,
            "title": line.title,
            "unit_amount": line.unit_amount,
            "quantity": spec.quantity,
        }
        for line, spec in zip(lines, ordered, strict=True)
    ]
    session.execute(_INSERT_ITEMS, lines_written)
    created = _event_row(order_id, None, S.WAIT_BUYER_PAY.value, "created", buyer, "", now)
    session.execute(_INSERT_EVENT, created)
    # The order as written, outside the session (nothing to flush): a new one has no refunds and no payments.
    order = Order(
        id=order_id,
        **row,
        items=[OrderItem(**line_written) for line_written in lines_written],
        history=[OrderEvent(**created)],
        refunds=[],
        provider_payments=[],
    )
    _emit(ctx, session, order, "order.created")
    return order


# Checkout's hot writes, built once and sent by Core: the unit of work's flush of an order cost more CPU than the
# statements it sent.
_ORDERS = cast(Table, Order.__table__)  # tables, not entities: the ORM's bulk paths would track what Core need not
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_ITEMS = insert(cast(Table, OrderItem.__table__))
_INSERT_EVENT = insert(cast(Table, OrderEvent.__table__))
_PAID = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("paid_order"))
    .values(status=S.WAIT_SELLER_SEND_GOODS.value, escrow_transfer_id=bindparam("held"), paid_at=bindparam("now"))
)


def _load_order(session: Session, order_id: int, lock: bool) -> Order | None:
    """The order with its items, history and refunds; row-locked for update when asked."""
    query = (
        select(Order)
        .where(Order.id == order_id)
        .options(
            selectinload(Order.items),
            selectinload(Order.history),
            selectinload(Order.refunds),
            selectinload(Order.provider_payments),
        )
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


# Built once, as payment runs them on every order.
_LOCK_ORDER = select(Order.id).where(Order.id == bindparam("paying")).with_for_update()
_ORDER_TO_PAY = (
    select(Order)
    .where(Order.id == bindparam("paying"))
    .options(joinedload(Order.items), joinedload(Order.history), joinedload(Order.provider_payments))
    .execution_options(populate_existing=True)
)


def _load_for_payment(session: Session, order_id: int) -> Order | None:
    """The order row-locked, with what its answer shows, in one query: an order awaiting payment has no refunds
    (none is asked for) and, usually, one history entry and no provider payment, so joining them costs little.

    PostgreSQL takes the lock first, on its own: a joined `FOR UPDATE` that waited for another transaction
    re-reads only the order's row, and would answer with the lines and history as they were before that wait.
    SQLite runs one writer at a time, so its one query sees everything committed."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_ORDER, {"paying": order_id})
    order = session.execute(_ORDER_TO_PAY, {"paying": order_id}).unique().scalar_one_or_none()
    if order is not None and order.status == S.WAIT_BUYER_PAY:
        set_committed_value(order, "refunds", [])  # refunds are requested of paid orders only
    return order


def get_order(session: Session, order_id: int, user: User, lock: bool = False) -> Order:
    """The order if `user` is its buyer, its merchant or an admin (locked for update when asked)."""
    return _seen_by(_load_order(session, order_id, lock), order_id, user)


def _seen_by(order: Order | None, order_id: int, user: User) -> Order:
    """`order` if `user` is its buyer, its merchant or an admin; NotFound otherwise, as for no order at all."""
    if order is None or user.id not in (order.buyer_id, order.merchant_id) and not user.is_admin:
        raise NotFound(_("There is no order {order_id}.", order_id=order_id))
    return order


def _expect(order: Order, *allowed: OrderStatus, action: str) -> None:
    if order.status not in {a.value for a in allowed}:
        raise IllegalTransition(_cannot(action, order.status), current_status=order.status, order_id=order.id)


def _cannot(action: str, status: str) -> str:
    """Why an order in `status` refuses `action`: a whole sentence for each step (word order differs by language)."""
    sentences = {
        "pay": _("Cannot pay an order in {status}.", status=status),
        "cancel": _("Cannot cancel an order in {status}.", status=status),
        "ship": _("Cannot ship an order in {status}.", status=status),
        "confirm receipt of": _("Cannot confirm receipt of an order in {status}.", status=status),
        "refund": _("Cannot refund an order in {status}.", status=status),
    }
    return sentences[action]


def _only(user: User, owner_id: int, who: str, admin_too: bool = False) -> None:
    """Buyers' steps are the buyer's alone; an admin may also settle refunds (`admin_too`)."""
    if user.id != owner_id and not (admin_too and user.is_admin):
        raise Forbidden(
            _("Only the order's buyer can do this.") if who == "buyer" else _("Only the order's merchant can do this.")
        )


def _close_unpaid(ctx: Context, session: Session, order: Order, action: str, actor: User | None) -> None:
    for item in order.items:
        catalog.release_stock(session, item.product_id, item.variant_id, item.quantity)
    order.finished_at = clock.now()
    _record(order, S.TRADE_CLOSED, action, actor)
    _emit(ctx, session, order, "order.closed")


def pay(ctx: Context, session: Session, order_id: int, buyer: User) -> Order:
    """Move the total from the buyer's wallet into escrow."""
    order = _seen_by(_load_for_payment(session, order_id), order_id, buyer)
    _only(buyer, order.buyer_id, "buyer")
    _pay_from_wallet(ctx, session, order, buyer, "paid")
    return order


def lock_order(session: Session, order_id: int) -> None:
    """Take the order's row lock before moving its buyer's money: `pay` locks the order, then the accounts, and
    every path that pays an order must lock in that order too (or two of them deadlock)."""
    _load_order(session, order_id, lock=True)


def pay_with_arrived_money(ctx: Context, session: Session, order_id: int, via: str) -> Order:
    """Pay the order from its buyer's wallet, which a provider's payment has just credited in this same
    transaction; IllegalTransition (the money stays in the wallet) when the order can no longer be paid."""
    order = _load_order(session, order_id, lock=True)
    if order is None:
        raise IllegalTransition(_("There is no order {order_id} any more.", order_id=order_id), current_status=None)
    _pay_from_wallet(ctx, session, order, None, f"paid_by_{via}")
    return order


def _pay_from_wallet(ctx: Context, session: Session, order: Order, actor: User | None, action: str) -> None:
    if order.status == S.WAIT_BUYER_PAY and order.expires_at <= clock.now():
        _close_unpaid(ctx, session, order, "expired", None)
        session.flush()
        raise IllegalTransition(_("This order expired before it was paid."), current_status=order.status)
    _expect(order, S.WAIT_BUYER_PAY, action="pay")
    reference = f"order:{order.id}"
    held = escrow.pay_into_escrow(
        session, order.buyer_id, order.merchant_id, Money(order.total_amount, order.currency), reference
    )
    now = clock.now()
    paid = _event_row(order.id, order.status, S.WAIT_SELLER_SEND_GOODS.value, action, actor, "", now)
    session.execute(_PAID, {"paid_order": order.id, "held": held, "now": now})
    session.execute(_INSERT_EVENT, paid)
    # Written by Core above; the loaded order is kept true without a flush or a read.
    for key, value in (("status", paid["to_status"]), ("escrow_transfer_id", held), ("paid_at", now)):
        set_committed_value(order, key, value)
    set_committed_value(order, "history", [*order.history, OrderEvent(**paid)])
    _emit(ctx, session, order, "order.paid")


def cancel(ctx: Context, session: Session, order_id: int, user: User) -> Order:
    """The buyer (or an admin) drops an unpaid order; its stock goes back on sale."""
    order = get_order(session, order_id, user, lock=True)
    _only(user, order.buyer_id, "buyer")
    _expect(order, S.WAIT_BUYER_PAY, action="cancel")
    _close_unpaid(ctx, session, order, "cancelled", user)
    return order


def ship(ctx: Context, session: Session, order_id: int, merchant: User, carrier: str, tracking: str) -> Order:
    order = get_order(session, order_id, merchant, lock=True)
    _only(merchant, order.merchant_id, "merchant")
    _expect(order, S.WAIT_SELLER_SEND_GOODS, action="ship")
    carrier = clean_text(carrier, "carrier", 100, required=True, label=_("carrier"))
    tracking = clean_text(tracking, "tracking number", 100, required=True, label=_("tracking number"))
    now = clock.now()
    order.carrier, order.tracking, order.shipped_at = carrier, tracking, now
    order.auto_confirm_at = now + timedelta(days=ctx.settings.auto_confirm_days)
    _record(order, S.WAIT_BUYER_CONFIRM_GOODS, "shipped", merchant, f"{carrier} {tracking}")
    _emit(ctx, session, order, "order.shipped")
    return order


def _open_refund(order: Order) -> RefundRequest | None:
    return next((r for r in order.refunds if r.status == RefundStatus.requested), None)


def confirm(ctx: Context, session: Session, order_id: int, buyer: User) -> Order:
    """The buyer confirms receipt: escrow goes to the merchant, less commission, in this one transaction."""
    order = get_order(session, order_id, buyer, lock=True)
    _only(buyer, order.buyer_id, "buyer")
    _expect(order, S.WAIT_BUYER_CONFIRM_GOODS, action="confirm receipt of")
    if _open_refund(order):
        raise IllegalTransition(_("Settle the open refund request first."), current_status=order.status)
    disputes.refuse_while_disputed(session, order)
    _finish(ctx, session, order, "confirmed", buyer)
    return order


def _held_in_escrow(order: Order) -> int:
    """The pending transfer holding a paid order's money: set at payment, cleared once released or all refunded
    (which also ends the order), so an order awaiting shipment or confirmation always has one."""
    if order.escrow_transfer_id is None:
        raise IllegalTransition(_("This order holds no money in escrow."), current_status=order.status)
    return order.escrow_transfer_id


def _finish(ctx: Context, session: Session, order: Order, action: str, actor: User | None) -> None:
    _net, commission = escrow.release_escrow(
        session, _held_in_escrow(order), order.merchant_id, ctx.settings.commission_bps, f"order:{order.id}"
    )
    order.commission_amount = commission.amount
    order.escrow_transfer_id = None
    order.finished_at = clock.now()
    order.auto_confirm_at = None
    _record(order, S.TRADE_FINISHED, action, actor)
    _emit(ctx, session, order, "order.finished")


def request_refund(
    ctx: Context, session: Session, order_id: int, buyer: User, amount: Money | None, reason: str
) -> RefundRequest:
    """The buyer asks for money back (all that is still in escrow by default); auto-confirm waits meanwhile."""
    order = get_order(session, order_id, buyer, lock=True)
    _only(buyer, order.buyer_id, "buyer")
    _expect(order, S.WAIT_SELLER_SEND_GOODS, S.WAIT_BUYER_CONFIRM_GOODS, action="refund")
    if _open_refund(order):
        raise Conflict(_("This order already has an open refund request."), current_status=order.status)
    remaining = order.total_amount - order.refunded_amount
    if amount is None:
        amount = Money(remaining, order.currency)
    if amount.currency != order.currency:
        raise InvalidInput(_("This order is in {currency}.", currency=order.currency), field="amount.currency")
    if not 0 < amount.amount <= remaining:
        raise InvalidInput(
            _(
                "A refund is more than zero and at most {amount}.",
                amount=Money(remaining, order.currency).display(),
            ),
            field="amount",
        )
    reason = clean_text(reason, "reason", 2000, required=True, label=_("reason"))
    if len(order.refunds) >= MAX_REFUND_REQUESTS:
        raise Conflict(
            _("An order takes at most {max} refund requests.", max=MAX_REFUND_REQUESTS), current_status=order.status
        )
    refund = RefundRequest(
        amount=amount.amount, reason=reason, status=RefundStatus.requested.value, created_at=clock.now()
    )
    order.refunds.append(refund)
    _record(order, None, "refund_requested", buyer, f"{amount.display()}: {reason}")
    session.flush()
    _emit(ctx, session, order, "refund.requested")
    return refund


def _refund_for_decision(session: Session, order_id: int, refund_id: int, user: User) -> tuple[Order, RefundRequest]:
    order = get_order(session, order_id, user, lock=True)
    _only(user, order.merchant_id, "merchant", admin_too=True)
    refund = next((r for r in order.refunds if r.id == refund_id), None)
    if refund is None:
        raise NotFound(_("Order {order_id} has no refund request {refund_id}.", order_id=order_id, refund_id=refund_id))
    if refund.status != RefundStatus.requested:
        raise Conflict(
            _("This refund request was already {status}.", status=refund.status), refund_status=refund.status
        )
    return order, refund


def accept_refund(ctx: Context, session: Session, order_id: int, refund_id: int, user: User) -> Order:
    """The merchant (or an admin) gives the money back from escrow; a full refund closes the order."""
    order, refund = _refund_for_decision(session, order_id, refund_id, user)
    _expect(order, S.WAIT_SELLER_SEND_GOODS, S.WAIT_BUYER_CONFIRM_GOODS, action="refund")
    disputes.refuse_while_disputed(session, order)
    amount = Money(refund.amount, order.currency)
    order.escrow_transfer_id = escrow.refund_from_escrow(
        session, _held_in_escrow(order), amount, order.merchant_id, f"order:{order.id}"
    )
    order.refunded_amount += refund.amount
    refund.status, refund.decided_at, refund.decided_by = RefundStatus.accepted.value, clock.now(), user.id
    if source_refunds.refund_to_source(ctx, session, order.id, amount, f"refund-{refund.id}"):
        _record(order, None, "refunding_to_source", user, amount.display())
    if order.escrow_transfer_id is None:
        if order.shipped_at is None:
            # Fully refunded before it left: the goods are still on the shelf.
            for item in order.items:
                catalog.release_stock(session, item.product_id, item.variant_id, item.quantity)
        order.finished_at = clock.now()
        order.auto_confirm_at = None
        _record(order, S.TRADE_CLOSED, "refunded", user, amount.display())
        _emit(ctx, session, order, "order.closed")
    else:
        _record(order, None, "partly_refunded", user, amount.display())
    _emit(ctx, session, order, "refund.accepted")
    return order


def reject_refund(ctx: Context, session: Session, order_id: int, refund_id: int, user: User, note: str) -> Order:
    order, refund = _refund_for_decision(session, order_id, refund_id, user)
    refund.status, refund.decided_at, refund.decided_by = RefundStatus.rejected.value, clock.now(), user.id
    _record(order, None, "refund_rejected", user, note.strip()[:1000])
    _emit(ctx, session, order, "refund.rejected")
    return order


@dataclass
class OrderPage:
    items: list[Order]
    total: int
    page: int
    per_page: int


def list_orders(session: Session, user: User, page: int, per_page: int, status: str | None = None) -> OrderPage:
    """The orders `user` bought or sold, newest first."""
    where = [or_(Order.buyer_id == user.id, Order.merchant_id == user.id)]
    if status:
        where.append(Order.status == status)
    total = session.scalar(select(func.count()).select_from(Order).where(*where)) or 0
    rows = session.scalars(
        select(Order)
        .where(*where)
        .options(
            selectinload(Order.items),
            selectinload(Order.history),
            selectinload(Order.refunds),
            selectinload(Order.provider_payments),
        )
        .order_by(Order.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return OrderPage(items=list(rows), total=total, page=page, per_page=per_page)


def due_for_closing(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(select(Order.id).where(Order.status == S.WAIT_BUYER_PAY.value, Order.expires_at <= now))
    )


def due_for_auto_confirm(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Order.id).where(Order.status == S.WAIT_BUYER_CONFIRM_GOODS.value, Order.auto_confirm_at <= now)
        )
    )


def close_if_expired(ctx: Context, session: Session, order_id: int) -> bool:
    order = _load_order(session, order_id, lock=True)
    if order is None or order.status != S.WAIT_BUYER_PAY or order.expires_at > clock.now():
        return False
    _close_unpaid(ctx, session, order, "expired", None)
    return True


def auto_confirm_if_due(ctx: Context, session: Session, order_id: int) -> bool:
    """Confirm for the buyer once the window after shipping has passed, unless a refund request is open."""
    order = _load_order(session, order_id, lock=True)
    if order is None or order.status != S.WAIT_BUYER_CONFIRM_GOODS:
        return False
    if order.auto_confirm_at is None or order.auto_confirm_at > clock.now():
        return False
    if _open_refund(order) or disputes.frozen_in_escrow(session, order.id):
        return False
    _finish(ctx, session, order, "auto_confirmed", None)
    return True
