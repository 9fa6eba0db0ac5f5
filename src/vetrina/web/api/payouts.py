"""/api/v1/payouts, the merchant's payout account, and the admin's payout routes (marking them, the bank's CSV)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.i18n import _
from vetrina.money import MoneyModel
from vetrina.payments import idempotency
from vetrina.payments.models import Payout, PayoutAccount, PayoutState
from vetrina.payouts import bank
from vetrina.payouts import service as payouts
from vetrina.web.api.schemas import Page, ShownText
from vetrina.web.deps import RowId, admin_only, db_session, get_context, required_user

router = APIRouter(tags=["payouts"])
# Writes open their transaction in the handler, not through `db_session`: FastAPI may leave a dependency in another
# thread than it entered, and SQLite's writer turn is a lock its own thread must release.


class PayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: MoneyModel = Field(description="From what can be withdrawn (GET /api/v1/wallet's `withdrawable`).")


class PayoutOut(BaseModel):
    id: int
    merchant_id: int
    amount: MoneyModel
    method: str = Field(description="manual (a bank transfer an admin makes), alipay or stripe.")
    destination: str = Field(
        description="Where it goes, as it was when asked for: the provider account, or a bank transfer's bank details."
    )
    state: Literal["requested", "paid", "failed"]
    reference: str | None = Field(description="The bank transfer's or the provider's reference, once paid.")
    failure: ShownText = Field(description="Why it failed (the money is back on the balance).")
    created_at: datetime
    settled_at: datetime | None


class PayoutPage(Page):
    items: list[PayoutOut]


def payout_out(payout: Payout) -> PayoutOut:
    return PayoutOut(
        id=payout.id,
        merchant_id=payout.merchant_id,
        amount=MoneyModel(amount=payout.amount, currency=payout.currency),
        method=payout.method,
        destination=payout.destination,
        state=payout.state,
        reference=payout.provider_reference,
        failure=payout.failure,
        created_at=payout.created_at,
        settled_at=payout.settled_at,
    )


@router.post("/api/v1/payouts", status_code=201, response_model=PayoutOut, summary="Ask for a payout")
def request_payout(request: Request, body: PayoutIn, user: User = required_user) -> PayoutOut:
    """Merchants only. Held from the balance at once; paid by the provider the merchant's payout account names, or
    by a bank transfer an admin makes. A retry with the same Idempotency-Key answers with the first payout."""
    key = request.headers.get("idempotency-key")
    if key is not None:
        idempotency.check_key(key)
    ctx = get_context(request)
    with ctx.db.session(write=True) as session:
        payout = payouts.request_payout(ctx, session, user, body.amount.to_money(), idempotency_key=key)
        return payout_out(payout)


@router.get("/api/v1/payouts", response_model=PayoutPage, summary="Your payouts (an admin's: everyone's)")
def list_payouts(
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    state: PayoutState | None = None,
    user: User = required_user,
    session: Session = db_session,
) -> PayoutPage:
    result = payouts.list_payouts(session, user, page, per_page, state)
    return PayoutPage(items=[payout_out(p) for p in result.items], total=result.total, page=page, per_page=per_page)


class PayoutAccountIn(BaseModel):
    """Only the fields sent change; null or "" clears one."""

    model_config = ConfigDict(extra="forbid")

    alipay_identity: str | None = Field(None, max_length=payouts.MAX_ALIPAY_FIELD, description="Alipay login id.")
    alipay_name: str | None = Field(None, max_length=payouts.MAX_ALIPAY_FIELD, description="The name Alipay checks.")
    stripe_account: str | None = Field(None, max_length=payouts.MAX_REFERENCE, description="acct_...")
    bank_details: str | None = Field(
        None, max_length=payouts.MAX_BANK_DETAILS, description="For bank transfers: holder, IBAN, BIC."
    )


class PayoutAccountOut(BaseModel):
    alipay_identity: str | None
    alipay_name: str | None
    stripe_account: str | None
    bank_details: str
    updated_at: datetime | None


def account_out(account: PayoutAccount | None) -> PayoutAccountOut:
    if account is None:
        return PayoutAccountOut(
            alipay_identity=None, alipay_name=None, stripe_account=None, bank_details="", updated_at=None
        )
    return PayoutAccountOut(
        alipay_identity=account.alipay_identity,
        alipay_name=account.alipay_name,
        stripe_account=account.stripe_account,
        bank_details=account.bank_details,
        updated_at=account.updated_at,
    )


@router.get("/api/v1/payouts/account", response_model=PayoutAccountOut, summary="Where your payouts go")
def read_payout_account(user: User = required_user, session: Session = db_session) -> PayoutAccountOut:
    return account_out(payouts.payout_account(session, user))


@router.put("/api/v1/payouts/account", response_model=PayoutAccountOut, summary="Set where your payouts go")
def save_payout_account(request: Request, body: PayoutAccountIn, user: User = required_user) -> PayoutAccountOut:
    changes = body.model_dump(include=body.model_fields_set)
    with get_context(request).db.session(write=True) as session:
        return account_out(payouts.save_payout_account(session, user, changes))


@router.get("/api/v1/payouts/{payout_id}", response_model=PayoutOut, summary="One payout")
def read_payout(payout_id: RowId, user: User = required_user, session: Session = db_session) -> PayoutOut:
    return payout_out(payouts.get_payout(session, payout_id, user))


class PaidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=payouts.MAX_REFERENCE, description="The bank transfer's.")


class FailedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=payouts.MAX_REASON)


@router.post("/api/v1/admin/payouts/{payout_id}/paid", response_model=PayoutOut, summary="Mark a bank payout paid")
def mark_paid(request: Request, payout_id: RowId, body: PaidIn, user: User = required_user) -> PayoutOut:
    """Admins only; once (409 after that). The held money leaves the ledger for good."""
    ctx = get_context(request)
    with ctx.db.session(write=True) as session:
        return payout_out(payouts.mark_paid(ctx, session, payout_id, user, body.reference))


@router.post("/api/v1/admin/payouts/{payout_id}/failed", response_model=PayoutOut, summary="Mark a payout failed")
def mark_failed(request: Request, payout_id: RowId, body: FailedIn, user: User = required_user) -> PayoutOut:
    """Admins only; once (409 after that). The held money goes back to the merchant's balance."""
    ctx = get_context(request)
    with ctx.db.session(write=True) as session:
        return payout_out(payouts.mark_failed(ctx, session, payout_id, user, body.reason))


@router.get("/api/v1/admin/payouts.csv", response_class=Response, summary="Bank payouts to make, as CSV")
def bank_csv(
    state: PayoutState = PayoutState.requested, user: User = required_user, session: Session = db_session
) -> Response:
    """Admins only: the payouts made by hand (id, merchant_email, amount, currency, bank_details, created_at,
    state); cells a spreadsheet would run as a formula start with '."""
    admin_only(user, _("Only admins export payouts."))
    return Response(
        bank.bank_csv(session, state),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="payouts.csv"'},
    )
