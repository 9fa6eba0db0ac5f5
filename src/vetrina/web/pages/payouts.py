"""/payouts, the merchant's balance and payouts, and /admin/payouts, where an admin pays them by bank transfer."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import Role, User
from vetrina.context import Context
from vetrina.errors import Forbidden
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments import idempotency
from vetrina.payments.models import Payout, PayoutState
from vetrina.payouts import balances
from vetrina.payouts import service as payouts
from vetrina.web.deps import RowId, admin_only, db_session, get_context, optional_user
from vetrina.web.pages.forms import CsrfField, form_action, signed_in
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)


def _merchant(user: User | None) -> User:
    user = signed_in(user)
    if user.role != Role.merchant:
        raise Forbidden(_("Payouts are for merchants."))
    return user


def _admin(user: User | None) -> User:
    return admin_only(signed_in(user), _("Only admins settle payouts."))


@router.get("/payouts", response_class=HTMLResponse)
def payouts_page(
    request: Request, msg: str = "", user: User | None = optional_user, session: Session = db_session
) -> Response:
    merchant = _merchant(user)
    shown = balances.currencies(session, merchant.id) or [get_context(request).settings.default_currency]
    return render(
        request,
        "payouts.html",
        user=merchant,
        msg=msg,
        balances=[balances.merchant_balance(session, merchant.id, currency) for currency in shown],
        payouts=payouts.list_payouts(session, merchant, 1, 50).items,
        account=payouts.payout_account(session, merchant),
        # One key per page shown: a form sent twice (a double click) asks for one payout.
        request_key=uuid.uuid4().hex,
        Money=Money,
    )


@router.post("/payouts")
def payouts_request(
    request: Request,
    amount: Annotated[str, Form(max_length=30)],
    currency: Annotated[str, Form(max_length=3)],
    csrf_token: CsrfField = "",
    request_key: Annotated[str, Form(max_length=255)] = "",
    user: User | None = optional_user,
) -> Response:
    def ask(ctx: Context, session: Session, merchant: User) -> Payout:
        key = idempotency.check_key(request_key) if request_key else None
        return payouts.request_payout(ctx, session, merchant, Money.parse(amount, currency), idempotency_key=key)

    return form_action(
        request,
        csrf_token,
        user,
        back="/payouts",
        done=lambda payout: _("Payout of {amount} requested.", amount=Money(payout.amount, payout.currency).display()),
        action=ask,
        who=_merchant,
    )


@router.post("/payouts/account")
def payouts_account(
    request: Request,
    csrf_token: CsrfField = "",
    bank_details: Annotated[str, Form(max_length=payouts.MAX_BANK_DETAILS)] = "",
    alipay_identity: Annotated[str, Form(max_length=payouts.MAX_ALIPAY_FIELD)] = "",
    alipay_name: Annotated[str, Form(max_length=payouts.MAX_ALIPAY_FIELD)] = "",
    stripe_account: Annotated[str, Form(max_length=payouts.MAX_REFERENCE)] = "",
    user: User | None = optional_user,
) -> Response:
    changes: dict[str, str | None] = {
        "bank_details": bank_details,
        "alipay_identity": alipay_identity,
        "alipay_name": alipay_name,
        "stripe_account": stripe_account,
    }
    return form_action(
        request,
        csrf_token,
        user,
        back="/payouts",
        done=_("Payout account saved."),
        action=lambda ctx, session, merchant: payouts.save_payout_account(session, merchant, changes),
        who=_merchant,
    )


@router.get("/admin/payouts", response_class=HTMLResponse)
def admin_payouts_page(
    request: Request, msg: str = "", user: User | None = optional_user, session: Session = db_session
) -> Response:
    admin = _admin(user)
    requested = payouts.list_payouts(session, admin, 1, 100, PayoutState.requested).items
    return render(
        request,
        "admin_payouts.html",
        user=admin,
        msg=msg,
        requested=requested,
        emails=payouts.merchant_emails(session, requested),
        Money=Money,
    )


@router.post("/admin/payouts/{payout_id}/paid")
def admin_mark_paid(
    request: Request,
    payout_id: RowId,
    reference: Annotated[str, Form(max_length=payouts.MAX_REFERENCE)] = "",
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    return form_action(
        request,
        csrf_token,
        user,
        back="/admin/payouts",
        done=_("Payout {payout_id} marked paid.", payout_id=payout_id),
        action=lambda ctx, session, admin: payouts.mark_paid(ctx, session, payout_id, admin, reference),
        who=_admin,
    )


@router.post("/admin/payouts/{payout_id}/failed")
def admin_mark_failed(
    request: Request,
    payout_id: RowId,
    reason: Annotated[str, Form(max_length=payouts.MAX_REASON)] = "",
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    return form_action(
        request,
        csrf_token,
        user,
        back="/admin/payouts",
        done=_("Payout {payout_id} marked failed: the money is back on the merchant's balance.", payout_id=payout_id),
        action=lambda ctx, session, admin: payouts.mark_failed(ctx, session, payout_id, admin, reason),
        who=_admin,
    )
