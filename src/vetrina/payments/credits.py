"""Admin credits: money received outside any provider (a bank transfer), put in a user's wallet by an admin.

One credit per reference (the bank transfer's own, say): asking again with the same reference, user and amount
gives the first credit back and moves nothing, so a retried command or request cannot credit twice; the same
reference with anything else is a 409. In the ledger: funding -> the user's wallet, kind `admin_credit`, reference
`credit:<credit id>` (the ids of `payment:<id>` and `payout:<id>` likewise); the AdminCredit row says who did it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.errors import Conflict, InvalidInput
from vetrina.i18n import _
from vetrina.money import MAX_AMOUNT, Money
from vetrina.payments import ledger
from vetrina.payments.models import AccountKind, AdminCredit

MAX_REFERENCE_LENGTH = 100  # AdminCredit.reference
MAX_CREDITED_BY_LENGTH = 255  # AdminCredit.credited_by
LEDGER_KIND = "admin_credit"


class CreditReferenceReused(Conflict):
    slug, title = "credit-reference-reused", _("This reference was already used for another credit")


def clean_reference(reference: str | None) -> str:
    """The reference trimmed: 1 to 100 printable characters, else a 422 naming the field `reference`."""
    cleaned = (reference or "").strip()
    if not cleaned:
        raise InvalidInput(_("An admin credit needs a reference, such as the bank transfer's."), field="reference")
    if len(cleaned) > MAX_REFERENCE_LENGTH:
        raise InvalidInput(_("A reference is at most {max} characters.", max=MAX_REFERENCE_LENGTH), field="reference")
    if not cleaned.isprintable():
        raise InvalidInput(
            _("A reference holds printable characters only (no tabs or line breaks)."), field="reference"
        )
    return cleaned


def ledger_reference(credit_row: AdminCredit) -> str:
    return f"credit:{credit_row.id}"


def credit(session: Session, user: User, amount: Money, reference: str, by: str) -> tuple[AdminCredit, bool]:
    """Credit `amount` to `user`'s wallet under `reference`, recorded as done `by` someone; whether it was created
    now (False: the same credit was made before, and nothing moved)."""
    reference = clean_reference(reference)
    if not isinstance(amount.amount, int) or not 0 < amount.amount <= MAX_AMOUNT:
        raise InvalidInput(_("An admin credit is more than zero."), field="amount")
    earlier = _by_reference(session, reference)
    if earlier is not None:
        return _same_credit(earlier, user, amount), False
    row = AdminCredit(
        reference=reference,
        user_id=user.id,
        amount=amount.amount,
        currency=amount.currency,
        credited_by=by.strip()[:MAX_CREDITED_BY_LENGTH] or "unknown",
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same reference, concurrently: the other request's credit is the one
        concurrent = _by_reference(session, reference)
        if concurrent is None:
            raise
        return _same_credit(concurrent, user, amount), False
    funding = ledger.platform_account(session, AccountKind.funding, amount.currency)
    wallet = ledger.account(session, AccountKind.wallet, user.id, amount.currency)
    ledger.transfer(session, funding, wallet, amount, LEDGER_KIND, ledger_reference(row))
    return row, True


def _by_reference(session: Session, reference: str) -> AdminCredit | None:
    return session.scalar(
        select(AdminCredit).where(AdminCredit.reference == reference).execution_options(populate_existing=True)
    )


def _same_credit(earlier: AdminCredit, user: User, amount: Money) -> AdminCredit:
    if (earlier.user_id, earlier.amount, earlier.currency) != (user.id, amount.amount, amount.currency):
        had = Money(earlier.amount, earlier.currency).display()
        raise CreditReferenceReused(
            _(
                "The reference {reference} was already used for a credit of {amount} to user {user_id} "
                "(credit {credit_id}); nothing was credited. Use the reference of this transfer.",
                reference=repr(earlier.reference),
                amount=had,
                user_id=earlier.user_id,
                credit_id=earlier.id,
            ),
            credit_id=earlier.id,
        )
    return earlier
