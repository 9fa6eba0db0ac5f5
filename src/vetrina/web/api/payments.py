"""/api/v1/wallet/topups, /api/v1/orders/{id}/payments, /api/v1/payments and the providers' notification routes."""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina import video_orders
from vetrina.accounts.models import User
from vetrina.commerce import checkout
from vetrina.errors import NotFound, PayloadTooLarge
from vetrina.i18n import _, localise
from vetrina.money import MoneyModel, PositiveMoneyModel
from vetrina.payments import funding, idempotency, provider_payments, wallet
from vetrina.payments.gateways import PayMethod
from vetrina.payments.models import PaymentPurpose, ProviderPayment
from vetrina.web.api.commerce import WalletOut, wallet_out
from vetrina.web.api.schemas import Page, ShownText
from vetrina.web.deps import RowId, db_session, framed_sign_in, get_context, public_base_url, required_user
from vetrina.web.idempotent import run_once
from vetrina.web.limits import limit_top_up

router = APIRouter(tags=["payments"])
MAX_NOTIFICATION_BYTES = 64 * 1024


class PaymentOut(BaseModel):
    id: int
    provider: str
    purpose: Literal["topup", "order"]
    order_id: int | None
    amount: MoneyModel
    state: Literal["created", "succeeded", "failed", "expired"]
    pay_url: str | None = Field(None, description="Open in a new window: the provider's payment page.")
    qr_code: str | None = Field(None, description="Show as a QR code: the buyer scans it with the provider's app.")
    note: ShownText = Field("", description="What the buyer should know, e.g. that the money stayed in the wallet.")
    created_at: datetime
    settled_at: datetime | None


class PaymentPage(Page):
    items: list[PaymentOut]


def payment_out(payment: ProviderPayment) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        provider=payment.provider,
        purpose=payment.purpose,
        order_id=payment.order_id,
        amount=MoneyModel(amount=payment.amount, currency=payment.currency),
        state=payment.state,
        pay_url=payment.pay_url,
        qr_code=payment.qr_code,
        note=payment.note,
        created_at=payment.created_at,
        settled_at=payment.settled_at,
    )


class TopUpIn(PositiveMoneyModel):
    provider: str | None = Field(None, max_length=32, description="One of the configured funding providers.")
    method: PayMethod = Field(PayMethod.page, description="page: the provider's page; qr: a code to scan.")


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None:
        idempotency.check_key(key)
    return key


@router.post(
    "/api/v1/wallet/topups",
    status_code=201,
    response_model=WalletOut | PaymentOut,
    summary="Add money to your wallet",
    responses={202: {"model": PaymentOut, "description": "Opened at the provider: pay there."}},
)
def top_up(request: Request, body: TopUpIn, user: User = required_user) -> JSONResponse:
    """Through a configured funding provider (`VETRINA_FUNDING_PROVIDERS`; 409 `no-funding-provider` when there
    is none). The sandbox credits at once (201, the wallet); a real provider answers 202 with the payment to
    complete there, and the wallet is credited when the provider's verified notification arrives."""
    ctx = get_context(request)
    chosen = funding.chosen_provider(ctx, body.provider)
    if chosen != "sandbox":
        limit_top_up(request, user)
        payment = checkout.start_top_up(
            ctx,
            user,
            body.to_money(),
            chosen,
            body.method,
            base_url=public_base_url(request),
            idempotency_key=_idempotency_key(request),
        )
        return JSONResponse(payment_out(payment).model_dump(mode="json"), status_code=202)
    sandbox = funding.funding_provider(ctx, chosen)
    # The provider de-duplicates charges by this key: the client's own, or one for this request alone.
    key = request.headers.get("idempotency-key") or uuid.uuid4().hex
    # An absent provider and a null one are one request: the same fingerprint as before `provider` existed.
    payload = body.model_dump(exclude_none=True, exclude={"method"})
    money = body.to_money()

    def credit(session: Session) -> WalletOut:
        wallet.top_up(session, sandbox, user, money, key)
        return wallet_out(session, user, money.currency)

    return run_once(request, user, payload, credit, 201, limit=lambda: limit_top_up(request, user))


@router.get("/api/v1/wallet/topups", response_model=PaymentPage, summary="Your top-ups through a provider")
def list_top_ups(
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    user: User = required_user,
    session: Session = db_session,
) -> PaymentPage:
    result = provider_payments.list_payments(session, user, page, per_page, PaymentPurpose.topup)
    return PaymentPage(items=[payment_out(p) for p in result.items], total=result.total, page=page, per_page=per_page)


@router.get("/api/v1/wallet/topups/{payment_id}", response_model=PaymentOut, summary="One top-up and its state")
def read_top_up(payment_id: RowId, user: User = required_user, session: Session = db_session) -> PaymentOut:
    payment = provider_payments.get_payment(session, payment_id, user)
    if payment.purpose != PaymentPurpose.topup:
        raise NotFound(_("There is no top-up {payment_id}.", payment_id=payment_id))
    return payment_out(payment)


class OrderPaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=32, description="One of the configured funding providers.")
    method: PayMethod = Field(PayMethod.page, description="page: the provider's page; qr: a code to scan.")


@router.post(
    "/api/v1/orders/{order_id}/payments",
    status_code=202,
    response_model=PaymentOut,
    summary="Pay an order's total through a provider",
)
def pay_order_through_provider(
    request: Request, order_id: RowId, body: OrderPaymentIn, user: User = required_user
) -> PaymentOut:
    """Opens a payment of exactly the order's total. The order is paid into escrow when the provider's verified
    notification arrives (the sandbox: at once). If the order expired or was cancelled meanwhile, the money stays
    in the buyer's wallet and the payment's note says so."""
    with get_context(request).db.session() as session:
        video_orders.check_framed_payment(session, user, framed_sign_in(request), order_id)
    payment = checkout.start_order_payment(
        get_context(request),
        order_id,
        user,
        body.provider,
        body.method,
        base_url=public_base_url(request),
        idempotency_key=_idempotency_key(request),
    )
    return payment_out(payment)


@router.get("/api/v1/payments/{payment_id}", response_model=PaymentOut, summary="One provider payment and its state")
def read_payment(payment_id: RowId, user: User = required_user, session: Session = db_session) -> PaymentOut:
    return payment_out(provider_payments.get_payment(session, payment_id, user))


@router.get(
    "/api/v1/payments/{payment_id}/qr.svg",
    summary="The payment's QR code, to scan with the provider's app",
    response_class=Response,
)
def payment_qr(payment_id: RowId, user: User = required_user, session: Session = db_session) -> Response:
    payment = provider_payments.get_payment(session, payment_id, user)
    if not payment.qr_code:
        raise NotFound(_("Payment {payment_id} has no QR code.", payment_id=payment_id))
    svg = io.BytesIO()
    title = localise(_("Scan to pay"))
    segno.make(payment.qr_code, error="m").save(svg, kind="svg", scale=6, border=2, title=title)
    # Its title is written in the reader's language, chosen by these headers (web/language.py).
    headers = {"Cache-Control": "private, max-age=300", "Vary": "Accept-Language, Cookie"}
    return Response(svg.getvalue(), media_type="image/svg+xml", headers=headers)


async def _notification(request: Request, provider: str) -> Response:
    """Verify, record and settle a provider's notification; answer as the provider expects."""
    ctx = get_context(request)
    if provider not in ctx.settings.funding_providers or provider == "sandbox":
        raise NotFound(_("{provider} is not configured here.", provider=provider))
    body = await request.body()
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise PayloadTooLarge(_("A notification is at most 64 KiB."))
    # Off the event loop: verifying an RSA signature and settling in the database block.
    await run_in_threadpool(checkout.verify_and_settle, ctx, provider, dict(request.headers), body)
    if provider == "alipay":
        return PlainTextResponse("success")  # anything else and Alipay keeps re-sending
    return JSONResponse({"received": True})


@router.post("/api/v1/providers/alipay/notify", summary="Alipay's asynchronous notification", response_class=Response)
async def alipay_notify(request: Request) -> Response:
    """Verified with Alipay's public key (RSA2); answered with the plain text `success` once recorded."""
    return await _notification(request, "alipay")


@router.post("/api/v1/providers/stripe/webhook", summary="Stripe's webhook", response_class=Response)
async def stripe_webhook(request: Request) -> Response:
    """Verified with the endpoint's signing secret and its timestamp tolerance; idempotent by event id."""
    return await _notification(request, "stripe")
