"""/api/v1/admin/wallets/{user_id}/credits: the operator's money desk."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from vetrina.accounts.models import User
from vetrina.errors import Forbidden, NotFound
from vetrina.money import MoneyModel
from vetrina.payments import credits
from vetrina.payments.models import AdminCredit
from vetrina.web.deps import RowId, get_context, required_user

router = APIRouter(tags=["admin"])


def admin_only(user: User, what: str) -> User:
    if not user.is_admin:
        raise Forbidden(f"Only admins {what}.")
    return user


class AdminCreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: MoneyModel = Field(description="More than zero, in the currency received.")
    reference: str = Field(
        "", description="Required: the transfer's own reference (1 to 100 characters); one credit per reference."
    )


class AdminCreditOut(BaseModel):
    id: int
    user_id: int
    amount: MoneyModel
    reference: str
    credited_by: str
    created_at: datetime


def admin_credit_out(row: AdminCredit) -> AdminCreditOut:
    return AdminCreditOut(
        id=row.id,
        user_id=row.user_id,
        amount=MoneyModel(amount=row.amount, currency=row.currency),
        reference=row.reference,
        credited_by=row.credited_by,
        created_at=row.created_at,
    )


@router.post(
    "/api/v1/admin/wallets/{user_id}/credits",
    status_code=201,
    response_model=AdminCreditOut,
    summary="Credit money received outside any provider to a user's wallet",
    responses={200: {"model": AdminCreditOut, "description": "This very credit was made before: nothing moved."}},
)
def credit_wallet(request: Request, user_id: RowId, body: AdminCreditIn, user: User = required_user) -> JSONResponse:
    """Money received by bank transfer, say: credited once per reference. The same reference again with the same
    user and amount answers the first credit (200); with anything else, 409 `credit-reference-reused`."""
    admin = admin_only(user, "credit wallets")
    with get_context(request).db.session(write=True) as session:
        target = session.get(User, user_id)
        if target is None:
            raise NotFound(f"There is no user {user_id}.")
        row, created = credits.credit(
            session, target, body.amount.to_money(), body.reference, f"user {admin.id} ({admin.email})"
        )
        out = admin_credit_out(row)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)
