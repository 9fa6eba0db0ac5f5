"""The CSV an admin gives the bank: the payouts to make by hand, with where each goes."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.money import Money
from vetrina.payments.models import Payout, PayoutState
from vetrina.payments.payout_gateways import MANUAL

COLUMNS = ("id", "merchant_email", "amount", "currency", "bank_details", "created_at", "state")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such cells are quoted.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """The cell as text a spreadsheet shows and never evaluates: a leading ' before what would start a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def bank_csv(session: Session, state: PayoutState = PayoutState.requested) -> str:
    """The payouts made by hand in `state` (by default those still to pay), oldest first."""
    rows = session.execute(
        select(Payout, User.email)
        .join(User, User.id == Payout.merchant_id)
        .where(Payout.method == MANUAL, Payout.state == state.value)
        .order_by(Payout.id)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for payout, email in rows:
        cells = (
            str(payout.id),
            email,
            Money(payout.amount, payout.currency).decimal_string(),
            payout.currency,
            payout.destination,  # the bank details as they were when the payout was asked for
            payout.created_at.isoformat(),
            payout.state,
        )
        writer.writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()
