"""/api/v1/orders, /api/v1/wallet and /api/v1/admin/ledger/check: escrow checkout over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    model_serializer,
)
from sqlalchemy.orm import Session

from vetrina import video_orders
from vetrina.accounts.models import Role, User
from vetrina.commerce import flash
from vetrina.commerce import service as orders
from vetrina.commerce.models import Order, OrderStatus
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.live import service as live
from vetrina.money import Money, MoneyModel, PositiveMoneyModel
from vetrina.payments import ledger, wallet
from vetrina.payouts import balances
from vetrina.web.api.live import announce_flash_sale
from vetrina.web.api.schemas import Page, ShownText
from vetrina.web.deps import (
    MAX_ROW_ID,
    RowId,
    admin_only,
    db_session,
    framed_sign_in,
    get_context,
    required_user,
    territory,
)
from vetrina.web.idempotent import run_once

router = APIRouter(tags=["checkout"])


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: StrictInt = Field(ge=1, le=MAX_ROW_ID)
    variant_id: StrictInt | None = Field(None, ge=1, le=MAX_ROW_ID)
    quantity: StrictInt = Field(ge=1, le=orders.MAX_QUANTITY)


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    video_id: StrictInt = Field(ge=1, le=MAX_ROW_ID)
    second: float = Field(ge=0, le=7 * 24 * 3600, allow_inf_nan=False)


class LiveSourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    show_id: StrictInt = Field(ge=1, le=MAX_ROW_ID)
    stream_time: AwareDatetime = Field(description="The program date time on the buyer's screen.")


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn] = Field(min_length=1, max_length=orders.MAX_ITEMS)
    source: SourceIn | None = Field(None, description="The video and second the buyer ordered from.")
    live: LiveSourceIn | None = Field(None, description="The live show, and its stream time, ordered from.")
    flash_sale_id: int | None = Field(
        None, ge=1, le=MAX_ROW_ID, description="Buy in this flash sale: one item, its product, at its price."
    )


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=100)
    tracking: str = Field(min_length=1, max_length=100)


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveMoneyModel | None = Field(None, description="Defaults to all that is still in escrow.")
    reason: str = Field(min_length=1, max_length=2000)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=1000)


class ItemOut(BaseModel):
    product_id: int
    variant_id: int | None
    title: str
    unit_price: MoneyModel
    quantity: int
    subtotal: MoneyModel


class EventOut(BaseModel):
    from_status: str | None
    to_status: str
    action: str
    note: ShownText
    at: datetime


class RefundOut(BaseModel):
    id: int
    amount: MoneyModel
    reason: str
    status: Literal["requested", "accepted", "rejected"]
    created_at: datetime


class OrderPaymentOut(BaseModel):
    id: int
    provider: str
    state: str = Field(description="created, succeeded, failed or expired (GET /api/v1/payments/{id} has the rest).")
    amount: MoneyModel
    note: ShownText


class OrderOut(BaseModel):
    id: int
    status: OrderStatus
    buyer_id: int
    merchant_id: int
    total: MoneyModel
    refunded: MoneyModel
    commission: MoneyModel
    items: list[ItemOut]
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    carrier: str | None
    tracking: str | None
    auto_confirm_at: datetime | None
    finished_at: datetime | None
    refunds: list[RefundOut]
    history: list[EventOut]
    payments: list[OrderPaymentOut] = Field(
        description="Payments opened at a provider for this order, and their state."
    )
    source: SourceIn | None
    live: LiveSourceIn | None = None


class OrderPage(Page):
    items: list[OrderOut]


def order_out(order: Order) -> OrderOut:
    def money(amount: int) -> MoneyModel:
        return MoneyModel(amount=amount, currency=order.currency)

    return OrderOut(
        id=order.id,
        status=OrderStatus(order.status),
        buyer_id=order.buyer_id,
        merchant_id=order.merchant_id,
        total=money(order.total_amount),
        refunded=money(order.refunded_amount),
        commission=money(order.commission_amount),
        items=[
            ItemOut(
                product_id=i.product_id,
                variant_id=i.variant_id,
                title=i.title,
                unit_price=money(i.unit_amount),
                quantity=i.quantity,
                subtotal=money(i.unit_amount * i.quantity),
            )
            for i in order.items
        ],
        created_at=order.created_at,
        expires_at=order.expires_at,
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        carrier=order.carrier,
        tracking=order.tracking,
        auto_confirm_at=order.auto_confirm_at,
        finished_at=order.finished_at,
        refunds=[
            RefundOut(id=r.id, amount=money(r.amount), reason=r.reason, status=r.status, created_at=r.created_at)
            for r in order.refunds
        ],
        history=[
            EventOut(from_status=e.from_status, to_status=e.to_status, action=e.action, note=e.note, at=e.at)
            for e in order.history
        ],
        payments=[
            OrderPaymentOut(id=p.id, provider=p.provider, state=p.state, amount=money(p.amount), note=p.note)
            for p in order.provider_payments
        ],
        source=SourceIn(video_id=order.source_video_id, second=order.source_second)
        if order.source_video_id is not None
        else None,
        live=LiveSourceIn(show_id=order.source_show_id, stream_time=order.source_stream_time)
        if order.source_show_id is not None and order.source_stream_time is not None
        else None,
    )


@router.post("/api/v1/orders", status_code=201, response_model=OrderOut, summary="Order products (reserves stock)")
def create_order(
    request: Request, body: OrderIn, user: User = required_user, viewer_territory: str = territory
) -> JSONResponse:
    ctx = get_context(request)
    specs = [orders.ItemSpec(product_id=i.product_id, variant_id=i.variant_id, quantity=i.quantity) for i in body.items]
    source = orders.OrderSource(body.source.video_id, body.source.second) if body.source else None

    def place(session: Session) -> OrderOut:
        live_source = None
        if body.live is not None:
            if body.source is not None:
                raise InvalidInput(_("An order comes from a video or from a live show, not both."), field="live")
            product_ids = [spec.product_id for spec in specs]
            live_source = live.order_source(session, body.live.show_id, body.live.stream_time, product_ids)
        order = video_orders.place_order(
            ctx,
            session,
            user,
            specs,
            territory=viewer_territory,
            source=source,
            framed=framed_sign_in(request),
            flash_sale_id=body.flash_sale_id,
            live_source=live_source,
        )
        if body.flash_sale_id is not None:
            announce_flash_sale(request, session, body.flash_sale_id)
        return order_out(order)

    return run_once(request, user, body, place, 201)


@router.get("/api/v1/flash-sales/{sale_id}", summary="A flash sale: its price, what is left, and until when")
def read_flash_sale(sale_id: RowId, session: Session = db_session) -> dict[str, Any]:
    return flash.sale_state(flash.get_sale(session, sale_id))


@router.get("/api/v1/orders", response_model=OrderPage, summary="Orders you bought or sold")
def list_orders(
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    status: OrderStatus | None = None,
    user: User = required_user,
    session: Session = db_session,
) -> OrderPage:
    result = orders.list_orders(session, user, page, per_page, status.value if status else None)
    return OrderPage(items=[order_out(o) for o in result.items], total=result.total, page=page, per_page=per_page)


@router.get("/api/v1/orders/{order_id}", response_model=OrderOut, summary="One order, with its state history")
def read_order(order_id: RowId, user: User = required_user, session: Session = db_session) -> OrderOut:
    return order_out(orders.get_order(session, order_id, user))


@router.post("/api/v1/orders/{order_id}/pay", response_model=OrderOut, summary="Pay into escrow from the wallet")
def pay_order(request: Request, order_id: RowId, user: User = required_user) -> JSONResponse:
    ctx = get_context(request)

    def pay(session: Session) -> OrderOut:
        video_orders.check_framed_payment(session, user, framed_sign_in(request), order_id)
        return order_out(orders.pay(ctx, session, order_id, user))

    return run_once(request, user, {}, pay)


@router.post("/api/v1/orders/{order_id}/cancel", response_model=OrderOut, summary="Cancel an unpaid order")
def cancel_order(request: Request, order_id: RowId, user: User = required_user) -> JSONResponse:
    ctx = get_context(request)
    return run_once(request, user, {}, lambda s: order_out(orders.cancel(ctx, s, order_id, user)))


@router.post("/api/v1/orders/{order_id}/ship", response_model=OrderOut, summary="The merchant ships")
def ship_order(request: Request, order_id: RowId, body: ShipIn, user: User = required_user) -> JSONResponse:
    ctx = get_context(request)
    return run_once(
        request,
        user,
        body,
        lambda s: order_out(orders.ship(ctx, s, order_id, user, body.carrier, body.tracking)),
    )


@router.post("/api/v1/orders/{order_id}/confirm", response_model=OrderOut, summary="Confirm receipt: pays the merchant")
def confirm_order(request: Request, order_id: RowId, user: User = required_user) -> JSONResponse:
    ctx = get_context(request)
    return run_once(request, user, {}, lambda s: order_out(orders.confirm(ctx, s, order_id, user)))


@router.post(
    "/api/v1/orders/{order_id}/refunds", status_code=201, response_model=RefundOut, summary="Ask for money back"
)
def request_refund(request: Request, order_id: RowId, body: RefundIn, user: User = required_user) -> JSONResponse:
    ctx = get_context(request)
    amount = body.amount.to_money() if body.amount else None

    def operation(session: Session) -> RefundOut:
        refund = orders.request_refund(ctx, session, order_id, user, amount, body.reason)
        money = Money(refund.amount, amount.currency if amount else session.get_one(Order, order_id).currency)
        return RefundOut(
            id=refund.id,
            amount=MoneyModel.of(money),
            reason=refund.reason,
            status=refund.status,
            created_at=refund.created_at,
        )

    return run_once(request, user, body, operation, 201)


@router.post(
    "/api/v1/orders/{order_id}/refunds/{refund_id}/accept", response_model=OrderOut, summary="Give the money back"
)
def accept_refund(request: Request, order_id: RowId, refund_id: RowId, user: User = required_user) -> JSONResponse:
    ctx = get_context(request)
    return run_once(request, user, {}, lambda s: order_out(orders.accept_refund(ctx, s, order_id, refund_id, user)))


@router.post("/api/v1/orders/{order_id}/refunds/{refund_id}/reject", response_model=OrderOut, summary="Refuse a refund")
def reject_refund(
    request: Request, order_id: RowId, refund_id: RowId, body: RejectIn, user: User = required_user
) -> JSONResponse:
    ctx = get_context(request)
    return run_once(
        request, user, body, lambda s: order_out(orders.reject_refund(ctx, s, order_id, refund_id, user, body.note))
    )


class WalletOut(BaseModel):
    available: MoneyModel = Field(
        description="A buyer's spendable money; a merchant's released sales plus its top-ups, less ad spend not "
        "yet billed."
    )
    held: MoneyModel = Field(description="In escrow: a buyer's unconfirmed payments, or a merchant's pending sales.")
    withdrawable: MoneyModel | None = Field(
        None, description="Merchants only: what a payout may take (released sales; top-ups can only be spent)."
    )

    # No return annotation: with one, pydantic documents the response as that type instead of this model.
    @model_serializer(mode="wrap")
    def _withdrawable_for_merchants_only(self, serialize: SerializerFunctionWrapHandler):
        shown: dict[str, Any] = serialize(self)
        if self.withdrawable is None:
            shown.pop("withdrawable", None)  # a buyer's wallet reads as it always did
        return shown


def wallet_out(session: Session, user: User, currency: str) -> WalletOut:
    """A buyer's wallet; a merchant's one balance, with what a payout may take."""
    if user.role != Role.merchant:
        view = wallet.wallet_view(session, user, currency)
        return WalletOut(available=MoneyModel.of(view.available), held=MoneyModel.of(view.held))
    balance = balances.merchant_balance(session, user.id, currency)
    return WalletOut(
        available=MoneyModel.of(balance.available),
        held=MoneyModel.of(balance.held),
        withdrawable=MoneyModel.of(balance.withdrawable),
    )


@router.get("/api/v1/wallet", response_model=WalletOut, summary="Your balance and what escrow holds")
def read_wallet(
    request: Request,
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
    user: User = required_user,
    session: Session = db_session,
) -> WalletOut:
    return wallet_out(session, user, currency or get_context(request).settings.default_currency)


class LedgerCheckOut(BaseModel):
    ok: bool
    total_debits: int
    total_credits: int
    accounts: int
    transfers: int
    violations: list[str]


@router.get("/api/v1/admin/ledger/check", response_model=LedgerCheckOut, summary="Recompute every ledger invariant")
def check_ledger(request: Request, user: User = required_user) -> LedgerCheckOut:
    admin_only(user, _("Only admins check the ledger."))
    with get_context(request).db.session(snapshot=True) as session:
        report = ledger.check_ledger(session)
    return LedgerCheckOut(**report.__dict__)
