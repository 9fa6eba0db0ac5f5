"""The double-entry ledger. Every movement of money goes through `_record`, the one place its rules live.

Rules: an amount is a positive integer of minor units in the accounts' currency; a transfer debits one
account and credits another by the same amount, so over all accounts debits equal credits; transfers
are never changed: a pending (two-phase) transfer is completed by a `post_pending` row or cancelled
by a `void_pending` row, each at most once (a unique constraint); accounts marked `no_overdraft`
(wallets, payables, escrow, commission) never go below zero (a CHECK constraint, and a check here
first so the caller gets a clear answer). Users' account rows carry running totals for fast reads
and the overdraft check; `check_ledger` recomputes them from the transfers.

The platform's own accounts (escrow, commission, funding) are credited or debited by every order, so
their rows would be a lock every payment waits for. They keep no running totals: their balances are
sums over their transfers, computed when asked (the "hot account" problem of ledgers).
"""

from __future__ import annotations

import functools
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import BigInteger, BindParameter, Select, Table, bindparam, create_engine, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.pool import NullPool, Pool

from vetrina import clock
from vetrina.db import after_commit, busy
from vetrina.errors import Conflict, InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments.models import PLATFORM, AccountKind, LedgerAccount, LedgerTransfer, TransferPhase

_OVERDRAFT_ALLOWED = {AccountKind.funding}
_CREATED_HERE = "ledger_accounts_created"  # session.info: ids of the accounts this transaction created


class InsufficientFunds(Conflict):
    slug, title = "insufficient-funds", _("Insufficient funds")


_ACCOUNTS = cast(Table, LedgerAccount.__table__)
# Written by Core, not the unit of work, whose flush cost more CPU than the statement it sends.
_INSERT_TRANSFER = insert(cast(Table, LedgerTransfer.__table__)).returning(LedgerTransfer.__table__.c.id)
_TOTALS = (
    _ACCOUNTS.c.debits_posted,
    _ACCOUNTS.c.credits_posted,
    _ACCOUNTS.c.debits_pending,
    _ACCOUNTS.c.credits_pending,
)
# What each phase adds to (+1) or takes from (-1) the debit's and the credit's totals.
Change = tuple[tuple[str, int], ...]
_CHANGES: dict[TransferPhase, tuple[Change, Change]] = {
    TransferPhase.posted: ((("debits_posted", 1),), (("credits_posted", 1),)),
    TransferPhase.pending: ((("debits_pending", 1),), (("credits_pending", 1),)),
    TransferPhase.post_pending: (
        (("debits_pending", -1), ("debits_posted", 1)),
        (("credits_pending", -1), ("credits_posted", 1)),
    ),
    TransferPhase.void_pending: ((("debits_pending", -1),), (("credits_pending", -1),)),
}
# A posted or pending transfer needs the debit's funds; completing or cancelling a pending one was reserved already.
_NEEDS_FUNDS = {TransferPhase.posted, TransferPhase.pending}


def _account_query(kind: AccountKind, owner_id: int, currency: str) -> Select[LedgerAccount]:
    return select(LedgerAccount).where(
        LedgerAccount.kind == kind.value, LedgerAccount.owner_id == owner_id, LedgerAccount.currency == currency
    )


def find_account(session: Session, kind: AccountKind, owner_id: int, currency: str) -> LedgerAccount | None:
    """The account if it exists (reads never create accounts)."""
    return session.scalar(_account_query(kind, owner_id, currency))


def account(session: Session, kind: AccountKind, owner_id: int, currency: str) -> LedgerAccount:
    """The account of this kind, owner and currency, created on first use (safe under concurrency).

    On PostgreSQL a new account is committed on a connection of its own first. Inserted in the caller's transaction,
    its unique key would be a lock held to the end, which one path takes after locking the buyer's wallet (a
    provider's notice credits the wallet, then pays) and another before (the buyer's `pay` finds the merchant's
    payable, then holds the wallet's money): two such payments deadlocked. An empty account harms no one if the
    caller then rolls back. SQLite writes one transaction at a time, so it creates in the caller's."""
    query = _account_query(kind, owner_id, currency)
    found = session.scalar(query)
    if found is not None:
        return found
    if session.get_bind().dialect.name == "postgresql":
        _create_apart(session.get_bind().engine, kind, owner_id, currency)
        found = session.scalar(query)
        if found is None:  # a REPEATABLE READ snapshot older than the account: reports and checks make none
            raise RuntimeError("ledger accounts are made in READ COMMITTED transactions only")
        return found
    created = LedgerAccount(**_empty_account(kind, owner_id, currency))
    try:
        with session.begin_nested():
            session.add(created)
    except IntegrityError:
        return session.scalars(query).one()  # another request created it first
    # Not to be remembered as an AccountRef by this transaction: a savepoint around it may yet roll it back.
    session.info.setdefault(_CREATED_HERE, set()).add(created.id)
    return created


def _empty_account(kind: AccountKind, owner_id: int, currency: str) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "owner_id": owner_id,
        "currency": currency,
        "no_overdraft": kind not in _OVERDRAFT_ALLOWED,
        "debits_posted": 0,
        "credits_posted": 0,
        "debits_pending": 0,
        "credits_pending": 0,
        "created_at": clock.now(),
    }


_apart: WeakKeyDictionary[Pool, Engine] = WeakKeyDictionary()


def _create_apart(engine: Engine, kind: AccountKind, owner_id: int, currency: str) -> None:
    """Commit the account on a new connection (not the pool's: every pooled one may be held by a caller waiting
    here); a concurrent creator's row is kept."""
    apart = _apart.get(engine.pool)
    if apart is None:
        side = create_engine(engine.url, poolclass=NullPool, connect_args={"connect_timeout": 10})
        apart = _apart.setdefault(engine.pool, side)
    empty = _empty_account(kind, owner_id, currency)
    try:
        with apart.begin() as connection:
            connection.execute(postgresql.insert(_ACCOUNTS).values(empty).on_conflict_do_nothing())
    except OperationalError as exc:  # the server took no more connections, or answered none in time
        raise busy("no connection came to open a ledger account") from exc


def platform_account(session: Session, kind: AccountKind, currency: str) -> LedgerAccount:
    return account(session, kind, PLATFORM, currency)


@dataclass(frozen=True)
class AccountRef:
    """What a transfer needs of an account, without its row: accounts are never deleted or re-keyed, so this
    is kept for the process's life once its transaction committed (a hot path then asks nothing to find it)."""

    id: int
    kind: str
    owner_id: int
    currency: str
    no_overdraft: bool


MAX_REMEMBERED_REFS = 1_000_000
# Per connection pool, so that two databases in one process (tests) never share ids.
_refs: WeakKeyDictionary[Pool, dict[tuple[str, int, str], AccountRef]] = WeakKeyDictionary()


def account_ref(session: Session, kind: AccountKind, owner_id: int, currency: str) -> AccountRef:
    """The account of this kind, owner and currency as an AccountRef (created on first use, like `account`)."""
    known = _refs.setdefault(session.get_bind().engine.pool, {})
    key = (kind.value, owner_id, currency)
    ref = known.get(key)
    if ref is not None:
        return ref
    row = account(session, kind, owner_id, currency)
    ref = AccountRef(row.id, row.kind, row.owner_id, row.currency, row.no_overdraft)
    if row.id not in session.info.get(_CREATED_HERE, ()):
        after_commit(session, lambda: _remember_ref(known, key, ref))
    return ref


def _remember_ref(known: dict[tuple[str, int, str], AccountRef], key: tuple[str, int, str], ref: AccountRef) -> None:
    if len(known) >= MAX_REMEMBERED_REFS:
        known.clear()  # bounded: a process that has paid between a million accounts starts over
    known[key] = ref


def keeps_totals(acct: LedgerAccount | AccountRef) -> bool:
    """Users' accounts keep running totals (and are locked per transfer); the platform's hot ones do not."""
    return acct.owner_id != PLATFORM


def available(acct: LedgerAccount) -> int:
    """What the account can still be debited: posted balance less what pending transfers hold."""
    return acct.credits_posted - acct.debits_posted - acct.debits_pending


Account = LedgerAccount | AccountRef


@functools.cache
def _moving(change: Change, checks_funds: bool) -> Any:
    """UPDATE ... RETURNING totals for one kind of change, built once; bound to move_account and move_amount."""
    amount: BindParameter[int] = bindparam("move_amount", type_=BigInteger())
    moved = {
        column: _ACCOUNTS.c[column] + amount if sign > 0 else _ACCOUNTS.c[column] - amount for column, sign in change
    }
    where = [_ACCOUNTS.c.id == bindparam("move_account")]
    if checks_funds:
        where.append(_ACCOUNTS.c.credits_posted - _ACCOUNTS.c.debits_posted - _ACCOUNTS.c.debits_pending >= amount)
    return update(_ACCOUNTS).where(*where).values(moved).returning(*_TOTALS)


def _move_totals(session: Session, acct: Account, change: Change, amount: int, checks_funds: bool) -> None:
    """Lock the account's row, check that it can give `amount` (with `checks_funds`) and move its totals: one
    UPDATE ... RETURNING, so the check and the write see the same row under the same lock."""
    totals = session.execute(_moving(change, checks_funds), {"move_account": acct.id, "move_amount": amount}).first()
    if totals is None:
        left = session.execute(select(*_TOTALS).where(_ACCOUNTS.c.id == acct.id)).one()
        money = Money(left.credits_posted - left.debits_posted - left.debits_pending, acct.currency)
        raise InsufficientFunds(
            _("Not enough money: {amount} available.", amount=money.display()), available=money.as_json()
        )
    # A row this session has loaded (whether `acct` is it or a ref to it) is kept true without reading it again.
    loaded = acct if isinstance(acct, LedgerAccount) else session.identity_map.get(identity_key(LedgerAccount, acct.id))
    if loaded is not None:
        for column, value in zip(_TOTALS, totals, strict=True):
            set_committed_value(loaded, column.key, value)


def _record(
    session: Session,
    debit: Account,
    credit: Account,
    amount: Money,
    phase: TransferPhase,
    kind: str,
    reference: str,
    pending: LedgerTransfer | None = None,
    held_for: Account | None = None,
) -> LedgerTransfer:
    """The one function that writes a transfer and moves the accounts' totals with it."""
    if not isinstance(amount.amount, int) or amount.amount <= 0:
        raise InvalidInput(_("Amounts are positive whole numbers of minor units."), field="amount")
    if debit.id == credit.id:
        raise InvalidInput(_("A transfer needs two different accounts."))
    if not debit.currency == credit.currency == amount.currency:
        raise InvalidInput(
            _(
                "{currency} cannot move between {debit_currency} and {credit_currency} accounts.",
                currency=amount.currency,
                debit_currency=debit.currency,
                credit_currency=credit.currency,
            )
        )
    x = amount.amount
    debit_change, credit_change = _CHANGES[phase]
    # No savepoint around the whole: a violated constraint fails the caller's whole transaction, as it should.
    try:
        # Rows locked in id order, so two transfers cannot deadlock; the platform's keep no totals (no lock).
        moves = sorted(((debit, debit_change), (credit, credit_change)), key=lambda pair: pair[0].id)
        checks_funds = phase in _NEEDS_FUNDS and debit.no_overdraft
        # A credit moved before the debit's funds check fails must not stay moved for a caller that goes on.
        credit_first = checks_funds and keeps_totals(credit) and keeps_totals(debit) and credit.id < debit.id
        with session.begin_nested() if credit_first else nullcontext():
            for acct, change in moves:
                if keeps_totals(acct):
                    _move_totals(session, acct, change, x, checks_funds and acct is debit)
        written = {
            "debit_account_id": debit.id,
            "credit_account_id": credit.id,
            "amount": x,
            "currency": amount.currency,
            "phase": phase.value,
            "pending_id": pending.id if pending else None,
            "held_for_account_id": held_for.id if held_for else None,
            "kind": kind,
            "reference": reference,
            "created_at": clock.now(),
        }
        transfer_id = session.execute(_INSERT_TRANSFER, written).scalar_one()
    except IntegrityError:
        # A resolution can only break the one-resolution-per-pending rule; anything else broke no_overdraft.
        if pending is not None:
            raise Conflict(_("This pending transfer was already completed or cancelled.")) from None
        raise InsufficientFunds(_("Not enough money for this transfer.")) from None
    # The row as written, outside the session: transfers are never changed, so there is nothing to flush.
    return LedgerTransfer(id=transfer_id, **written)


def transfer(
    session: Session, debit: Account, credit: Account, amount: Money, kind: str, reference: str
) -> LedgerTransfer:
    """Move money now (a posted transfer)."""
    return _record(session, debit, credit, amount, TransferPhase.posted, kind, reference)


def hold(
    session: Session,
    debit: Account,
    credit: Account,
    amount: Money,
    kind: str,
    reference: str,
    held_for: Account | None = None,
) -> LedgerTransfer:
    """Reserve money (phase one of two): it leaves the debit account's available balance, nothing moves yet."""
    return _record(session, debit, credit, amount, TransferPhase.pending, kind, reference, held_for=held_for)


def _pending(session: Session, pending_id: int) -> tuple[LedgerTransfer, LedgerAccount, LedgerAccount]:
    pending = session.get(LedgerTransfer, pending_id)
    if pending is None or pending.phase != TransferPhase.pending:
        raise NotFound(_("There is no pending transfer {pending_id}.", pending_id=pending_id))
    return (
        pending,
        session.get_one(LedgerAccount, pending.debit_account_id),
        session.get_one(LedgerAccount, pending.credit_account_id),
    )


def post(session: Session, pending_id: int, kind: str) -> LedgerTransfer:
    """Complete a pending transfer (phase two): the reserved money moves."""
    pending, debit, credit = _pending(session, pending_id)
    amount = Money(pending.amount, pending.currency)
    return _record(session, debit, credit, amount, TransferPhase.post_pending, kind, pending.reference, pending)


def void(session: Session, pending_id: int, kind: str) -> LedgerTransfer:
    """Cancel a pending transfer: the reserved money is available again to the debit account."""
    pending, debit, credit = _pending(session, pending_id)
    amount = Money(pending.amount, pending.currency)
    return _record(session, debit, credit, amount, TransferPhase.void_pending, kind, pending.reference, pending)


def held_for(session: Session, acct: LedgerAccount) -> int:
    """What pending transfers hold on behalf of `acct` (e.g. buyers' escrow payments owed to a merchant)."""
    resolution = aliased(LedgerTransfer)
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerTransfer.amount), 0))
            .outerjoin(resolution, resolution.pending_id == LedgerTransfer.id)
            .where(
                LedgerTransfer.held_for_account_id == acct.id,
                LedgerTransfer.phase == TransferPhase.pending.value,
                resolution.id.is_(None),
            )
        )
        or 0
    )


@dataclass
class LedgerReport:
    ok: bool
    total_debits: int
    total_credits: int
    accounts: int
    transfers: int
    violations: list[str] = field(default_factory=list)


def check_ledger(session: Session) -> LedgerReport:
    """Recompute every invariant from the transfers themselves."""
    violations: list[str] = []
    accounts = {a.id: a for a in session.scalars(select(LedgerAccount))}
    totals = {aid: {"dp": 0, "cp": 0, "dq": 0, "cq": 0} for aid in accounts}
    transfers = list(session.scalars(select(LedgerTransfer).order_by(LedgerTransfer.id)))
    by_id = {t.id: t for t in transfers}
    resolved = {t.pending_id: t for t in transfers if t.pending_id is not None}
    total_debits = total_credits = 0
    for t in transfers:
        if t.amount <= 0 or t.debit_account_id == t.credit_account_id:
            violations.append(f"transfer {t.id}: malformed (amount {t.amount})")
        for side in (t.debit_account_id, t.credit_account_id):
            if accounts[side].currency != t.currency:
                violations.append(f"transfer {t.id}: {t.currency} on a {accounts[side].currency} account {side}")
        debit, credit = totals[t.debit_account_id], totals[t.credit_account_id]
        if t.phase in (TransferPhase.posted, TransferPhase.post_pending):
            debit["dp"] += t.amount
            credit["cp"] += t.amount
            total_debits += t.amount
            total_credits += t.amount
        if t.phase == TransferPhase.pending and t.id not in resolved:
            debit["dq"] += t.amount
            credit["cq"] += t.amount
        if t.pending_id is not None:
            original = by_id.get(t.pending_id)
            if original is None or original.phase != TransferPhase.pending or original.id > t.id:
                violations.append(f"transfer {t.id}: resolves {t.pending_id}, which is not an earlier pending transfer")
            elif (original.debit_account_id, original.credit_account_id, original.amount) != (
                t.debit_account_id,
                t.credit_account_id,
                t.amount,
            ):
                violations.append(f"transfer {t.id}: does not match the pending transfer {t.pending_id}")
    for aid, acct in accounts.items():
        sums = totals[aid]
        # The platform's accounts keep no running totals (see the module docstring): theirs stay zero.
        expected = sums if keeps_totals(acct) else dict.fromkeys(sums, 0)
        have = {
            "dp": acct.debits_posted,
            "cp": acct.credits_posted,
            "dq": acct.debits_pending,
            "cq": acct.credits_pending,
        }
        if expected != have:
            violations.append(f"account {aid} ({acct.kind}): totals {have}, but its transfers give {expected}")
        if acct.no_overdraft and sums["cp"] - sums["dp"] - sums["dq"] < 0:
            violations.append(f"account {aid} ({acct.kind} of {acct.owner_id}) is below zero")
    for currency in {a.currency for a in accounts.values()}:
        balance = sum(totals[a]["cp"] - totals[a]["dp"] for a in accounts if accounts[a].currency == currency)
        if balance != 0:
            violations.append(f"{currency}: the balances of all accounts sum to {balance}, not 0")
    return LedgerReport(
        ok=not violations,
        total_debits=total_debits,
        total_credits=total_credits,
        accounts=len(accounts),
        transfers=len(transfers),
        violations=violations,
    )


def transfers_for(session: Session, reference: str) -> list[LedgerTransfer]:
    return list(session.scalars(select(LedgerTransfer).where(LedgerTransfer.reference == reference)))


def platform_totals(session: Session) -> dict[str, dict[str, int]]:
    """What the platform holds and has earned, per currency: `escrow_held` (buyers' payments awaiting
    release: pending holds not yet posted or voided), `commission` and `advertising` (posted balances)."""
    resolved = select(LedgerTransfer.pending_id).where(LedgerTransfer.pending_id.is_not(None))
    held = session.execute(
        select(LedgerAccount.currency, func.sum(LedgerTransfer.amount))
        .join(LedgerAccount, LedgerAccount.id == LedgerTransfer.credit_account_id)
        .where(
            LedgerAccount.kind == AccountKind.escrow.value,
            LedgerTransfer.phase == TransferPhase.pending.value,
            LedgerTransfer.id.not_in(resolved),
        )
        .group_by(LedgerAccount.currency)
    ).all()
    totals: dict[str, dict[str, int]] = {"escrow_held": {c: int(a) for c, a in held}}
    posted = (TransferPhase.posted.value, TransferPhase.post_pending.value)
    for kind in (AccountKind.commission, AccountKind.advertising):
        balance: dict[str, int] = {}
        for side, sign in ((LedgerTransfer.credit_account_id, 1), (LedgerTransfer.debit_account_id, -1)):
            for currency, amount in session.execute(
                select(LedgerAccount.currency, func.sum(LedgerTransfer.amount))
                .join(LedgerAccount, LedgerAccount.id == side)
                .where(
                    LedgerAccount.kind == kind.value,
                    LedgerAccount.owner_id == PLATFORM,
                    LedgerTransfer.phase.in_(posted),
                )
                .group_by(LedgerAccount.currency)
            ):
                balance[currency] = balance.get(currency, 0) + sign * int(amount)
        totals[kind.value] = balance
    return totals
