"""/api/v1/admin/wallets/{user_id}/credits and /api/v1/admin/reconciliation: the operator's money desk."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.errors import NotFound
from vetrina.i18n import _
from vetrina.money import MoneyModel
from vetrina.payments import credits, reconciliation
from vetrina.payments.models import AdminCredit
from vetrina.web.deps import RowId, admin_only, get_context, required_user

router = APIRouter(tags=["admin"])


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
    admin = admin_only(user, _("Only admins credit wallets."))
    with get_context(request).db.session(write=True) as session:
        target = session.get(User, user_id)
        if target is None:
            raise NotFound(_("There is no user {user_id}.", user_id=user_id))
        row, created = credits.credit(
            session, target, body.amount.to_money(), body.reference, f"user {admin.id} ({admin.email})"
        )
        out = admin_credit_out(row)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


class ReconciliationRowOut(BaseModel):
    provider: str
    day: date
    currency: str
    notified: int = Field(description="Minor units the provider said came in (less refunds it confirmed).")
    credited: int = Field(description="Minor units the ledger took in from it (less what went back).")
    paid_out: int = Field(description="Minor units the ledger paid out through it.")
    difference: int = Field(description="notified - credited")


class DifferenceOut(BaseModel):
    kind: str
    provider: str
    day: date
    reference: str
    detail: str


class ReconciliationOut(BaseModel):
    start: date
    end: date
    provider: str | None
    rows: list[ReconciliationRowOut]
    differences: list[DifferenceOut]
    ledger_ok: bool = Field(description="Whether the ledger check finds no violation.")


@router.get(
    "/api/v1/admin/reconciliation",
    response_model=ReconciliationOut,
    summary="Per provider and day: what the providers notified against the ledger",
    responses={200: {"content": {"text/csv": {}}, "description": "The rows as CSV with Accept: text/csv."}},
)
def read_reconciliation(
    request: Request,
    provider: Annotated[str | None, Query(max_length=32)] = None,
    start: date | None = None,
    end: date | None = None,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,  # noqa: A002  (the parameter's name)
    user: User = required_user,
) -> Response:
    """Days in UTC, both included; by default the last 7, at most 366. `?format=csv` or `Accept: text/csv` gives
    the rows as CSV."""
    admin_only(user, _("Only admins reconcile the accounts."))
    shown_provider = reconciliation.check_provider(provider)
    first, last = reconciliation.period(start, end, clock.now().date())
    with get_context(request).db.session(snapshot=True) as session:
        report = reconciliation.reconcile(get_context(request), session, first, last, shown_provider)
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        name = f"reconciliation-{first}-{last}{'-' + shown_provider if shown_provider else ''}.csv"
        return Response(
            reconciliation.as_csv(report.rows),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    out = ReconciliationOut(
        start=report.start,
        end=report.end,
        provider=report.provider,
        rows=[ReconciliationRowOut(**row.as_dict()) for row in report.rows],
        differences=[DifferenceOut(**d.as_dict()) for d in report.differences],
        ledger_ok=report.ledger_ok,
    )
    return JSONResponse(out.model_dump(mode="json"))
