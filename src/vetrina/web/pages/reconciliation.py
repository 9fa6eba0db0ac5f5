"""/admin/reconciliation: per provider and day, what the providers notified against the ledger, for admins."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments import reconciliation
from vetrina.web.deps import admin_only, get_context, optional_user
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin/reconciliation", response_class=HTMLResponse)
def reconciliation_page(
    request: Request,
    provider: str | None = None,
    start: date | None = None,
    end: date | None = None,
    user: User | None = optional_user,
) -> Response:
    if user is None:
        return RedirectResponse("/login?next=/admin/reconciliation", status_code=303)
    admin_only(user, _("Only admins reconcile the accounts."))
    shown_provider = reconciliation.check_provider(provider)
    first, last = reconciliation.period(start, end, clock.now().date())
    ctx = get_context(request)
    with ctx.db.session(snapshot=True) as session:
        report = reconciliation.reconcile(ctx, session, first, last, shown_provider)
    query = {"start": first.isoformat(), "end": last.isoformat(), "format": "csv"}
    if shown_provider:
        query["provider"] = shown_provider
    return render(
        request,
        "reconciliation.html",
        user=user,
        report=report,
        providers=reconciliation.PROVIDERS,
        csv_url=f"/api/v1/admin/reconciliation?{urlencode(query)}",
        Money=Money,
    )
