"""Reconciliation: per provider and day (UTC), what came in and went out by the providers' word against the ledger.

What each provider says happened (`notified`):
- alipay, stripe: their verified notices (ProviderNotice): a payment's success (counted once per payment, however
  many times it was notified) less the refunds they confirmed;
- sandbox: it keeps no record of its own, its charges are: the `topup:sandbox:...` credits and its succeeded payments;
- manual: the admins' record of money received by bank (AdminCredit).
What the ledger holds: transfers out of the platform's `funding` account (money entering, `credited`, less what
went back to its source) and posted into its `payouts` account (`paid_out`). Ledger references name the source:
`payment:<id>` and `refund:<id>...` a ProviderPayment, `topup:<provider>:...` a sandbox top-up, `credit:<id>` an
AdminCredit, a payout's pending transfer (or `payout:<id>`) its Payout. Each row's difference is notified less
credited; every disagreement found item by item is listed in `differences`.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.context import Context
from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.money import Money
from vetrina.payments import credits, ledger
from vetrina.payments.gateways import NoticeKind
from vetrina.payments.models import (
    PLATFORM,
    AccountKind,
    AdminCredit,
    LedgerAccount,
    LedgerTransfer,
    PaymentState,
    Payout,
    PayoutState,
    ProviderNotice,
    ProviderPayment,
    TransferPhase,
)
from vetrina.settings import FUNDING_PROVIDERS

MANUAL = "manual"  # money received or paid by hand (a bank transfer)
UNATTRIBUTED = "unattributed"  # a ledger transfer whose reference names no source we know
PROVIDERS = (*FUNDING_PROVIDERS, MANUAL)
DEFAULT_DAYS = 7
MAX_DAYS = 366
CSV_COLUMNS = ("provider", "day", "currency", "notified", "credited", "paid_out", "difference")
_MOVED = (TransferPhase.posted.value, TransferPhase.post_pending.value)
_IN_CHUNK = 500  # ids per IN (...) list, well under every database's limit on bound parameters
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class DifferenceKind(enum.StrEnum):
    notified_not_credited = "notified_not_credited"  # the provider (or an admin) says money came; the ledger has none
    credited_not_notified = "credited_not_notified"  # the ledger credited money nobody notified
    amount_mismatch = "amount_mismatch"  # both sides know of it, with different amounts
    payment_overdue = "payment_overdue"  # still `created` past VETRINA_PROVIDER_PAYMENT_TIMEOUT_MINUTES
    payout_not_posted = "payout_not_posted"  # paid by the provider's word or the payout's state, not in the ledger
    payout_posted_not_paid = "payout_posted_not_paid"  # posted in the ledger for a payout not marked paid
    unattributed_transfer = "unattributed_transfer"  # funding or payouts moved under a reference we cannot place


@dataclass
class Row:
    provider: str
    day: str  # YYYY-MM-DD, UTC
    currency: str
    notified: int = 0  # minor units
    credited: int = 0
    paid_out: int = 0

    @property
    def difference(self) -> int:
        return self.notified - self.credited

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "difference": self.difference}


@dataclass(frozen=True)
class Difference:
    kind: DifferenceKind
    provider: str
    day: str
    reference: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "kind": self.kind.value}


@dataclass
class Reconciliation:
    start: date
    end: date
    provider: str | None
    ledger_ok: bool
    rows: list[Row] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    def rows_by_provider(self) -> dict[str, list[Row]]:
        grouped: dict[str, list[Row]] = {}
        for row in self.rows:
            grouped.setdefault(row.provider, []).append(row)
        return grouped


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The days asked for (both included): by default the last 7; at most 366, else a 422."""
    if end is None:
        end = today if start is None else max(today, start)
    if end >= date.max:  # reconcile() reads up to the start of the day after the last
        raise InvalidInput(_("The period ends after the calendar does."), field="end")
    start = start or clock.days_before(end, DEFAULT_DAYS - 1)
    if end < start:
        raise InvalidInput(_("The period ends before it starts."), field="end")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(_("A reconciliation covers at most {max} days.", max=MAX_DAYS), field="start")
    return start, end


def check_provider(name: str | None) -> str | None:
    """None for all providers; a 422 for a name that is not one."""
    if not name:
        return None
    if name not in PROVIDERS:
        raise InvalidInput(_("The provider is one of {providers}.", providers=", ".join(PROVIDERS)), field="provider")
    return name


def reconcile(ctx: Context, session: Session, start: date, end: date, provider: str | None = None) -> Reconciliation:
    """The report for the days from `start` to `end` (UTC, both included), of one provider or all; a snapshot
    session keeps its reads consistent."""
    since = datetime.combine(start, time(), UTC)
    until = datetime.combine(end + timedelta(days=1), time(), UTC)
    report = _Builder(session, provider, since, until)
    report.ledger_flows()
    report.provider_notices()
    report.sandbox_payments()
    report.admin_credits()
    report.overdue_payments(clock.now() - timedelta(minutes=ctx.settings.provider_payment_timeout_minutes))
    report.payouts()
    return Reconciliation(
        start=start,
        end=end,
        provider=provider,
        ledger_ok=ledger.check_ledger(session).ok,
        rows=sorted(report.rows.values(), key=lambda r: (r.provider, r.day, r.currency)),
        differences=sorted(report.differences, key=lambda d: (d.provider, d.day, d.kind.value, d.reference)),
    )


def as_csv(rows: Iterable[Row]) -> str:
    """The rows as CSV, amounts in minor units; no cell a spreadsheet would run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = row.as_dict()
        writer.writerow([_safe_cell(values[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def _safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _chunks(ids: Iterable[Any]) -> Iterator[list[Any]]:
    batch = sorted(set(ids))
    for offset in range(0, len(batch), _IN_CHUNK):
        yield batch[offset : offset + _IN_CHUNK]


def _number_after(reference: str, prefix: str) -> int | None:
    """The id in `prefix:<id>` (or `prefix:<id>:...`), if the reference has that form."""
    if not reference.startswith(prefix + ":"):
        return None
    number = reference[len(prefix) + 1 :].split(":", 1)[0]
    return int(number) if number.isascii() and number.isdigit() and len(number) < 19 else None


def _show(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return "no amount"
    return Money(amount, currency).display()


class _Builder:
    """Collects the rows and differences of one report, keeping only the provider asked for."""

    def __init__(self, session: Session, provider: str | None, since: datetime, until: datetime) -> None:
        self.session = session
        self.only = provider
        self.since, self.until = since, until
        self.rows: dict[tuple[str, str, str], Row] = {}
        self.differences: list[Difference] = []
        platform = session.execute(
            select(LedgerAccount.id, LedgerAccount.kind).where(
                LedgerAccount.owner_id == PLATFORM,
                LedgerAccount.kind.in_([AccountKind.funding.value, AccountKind.payouts.value]),
            )
        ).all()
        self.funding = {aid for aid, kind in platform if kind == AccountKind.funding}
        self.payouts_accounts = {aid for aid, kind in platform if kind == AccountKind.payouts}
        # Filled by ledger_flows(): the sources its transfers name.
        self.payments_by_id: dict[int, ProviderPayment] = {}
        self.succeeded_payments: set[int] = set()
        self.credit_ids: set[int] = set()
        self.payouts_by_pending: dict[int, Payout] = {}
        self.payouts_by_id: dict[int, Payout] = {}

    def _wanted(self, provider: str) -> bool:
        return self.only is None or provider == self.only

    def add(self, provider: str, when: datetime, currency: str, column: str, amount: int) -> None:
        if not self._wanted(provider):
            return
        key = (provider, _day(when), currency)
        row = self.rows.setdefault(key, Row(*key))
        setattr(row, column, getattr(row, column) + amount)

    def differ(self, kind: DifferenceKind, provider: str, when: datetime, reference: str, detail: str) -> None:
        if self._wanted(provider):
            self.differences.append(Difference(kind, provider, _day(when), reference, detail))

    # --- the ledger's side -------------------------------------------------------------------------------------

    def _in_period(self, column: Any) -> list[Any]:
        return [column >= self.since, column < self.until]

    def ledger_flows(self) -> None:
        """Every movement of the funding and payouts accounts in the period, placed with its source."""
        platform_ids = self.funding | self.payouts_accounts
        if not platform_ids:
            return
        moved = list(
            self.session.scalars(
                select(LedgerTransfer)
                .where(
                    LedgerTransfer.phase.in_(_MOVED),
                    (LedgerTransfer.debit_account_id.in_(platform_ids))
                    | (LedgerTransfer.credit_account_id.in_(platform_ids)),
                    *self._in_period(LedgerTransfer.created_at),
                )
                .order_by(LedgerTransfer.id)
            )
        )
        payment_ids = [
            n for t in moved for p in ("payment", "refund") if (n := _number_after(t.reference, p)) is not None
        ]
        self.payments_by_id = self._payments(payment_ids)
        self.credit_ids = {
            n
            for t in moved
            if t.debit_account_id in self.funding and (n := _number_after(t.reference, "credit")) is not None
        }
        self._find_payouts(moved)
        self.succeeded_payments = self._payments_with_success_notice(
            p.id for p in self.payments_by_id.values() if p.provider != "sandbox"
        )
        for t in moved:
            if t.debit_account_id in self.funding:
                self._funding_flow(t, t.amount)
            elif t.credit_account_id in self.funding:
                self._funding_flow(t, -t.amount)
            elif t.credit_account_id in self.payouts_accounts:
                self._payout_flow(t, t.amount)
            else:
                self._payout_flow(t, -t.amount)

    def _funding_flow(self, t: LedgerTransfer, signed: int) -> None:
        payment_id = _number_after(t.reference, "payment")
        payment = self.payments_by_id.get(payment_id or _number_after(t.reference, "refund") or 0)
        if payment is not None:
            self.add(payment.provider, t.created_at, t.currency, "credited", signed)
            if signed > 0 and payment_id is not None:
                self._check_credited_payment(t, payment)
            return
        if t.reference.startswith("topup:sandbox:"):
            # The sandbox's charge and its credit are one act: the transfer is the only record of either.
            self.add("sandbox", t.created_at, t.currency, "credited", signed)
            self.add("sandbox", t.created_at, t.currency, "notified", signed)
            return
        if _number_after(t.reference, "credit") is not None:
            self.add(MANUAL, t.created_at, t.currency, "credited", signed)
            return  # matched with its AdminCredit in admin_credits()
        self._unattributed(t, signed, "credited")

    def _check_credited_payment(self, t: LedgerTransfer, payment: ProviderPayment) -> None:
        if payment.provider == "sandbox":
            if payment.state != PaymentState.succeeded:
                self.differ(
                    DifferenceKind.credited_not_notified,
                    "sandbox",
                    t.created_at,
                    payment.reference,
                    f"payment {payment.id}: {_show(t.amount, t.currency)} credited, but the payment is {payment.state}",
                )
            return
        if payment.id not in self.succeeded_payments:
            self.differ(
                DifferenceKind.credited_not_notified,
                payment.provider,
                t.created_at,
                payment.reference,
                f"payment {payment.id}: {_show(t.amount, t.currency)} credited (ledger transfer {t.id}), but "
                f"{payment.provider} never notified its success",
            )

    def _payout_flow(self, t: LedgerTransfer, signed: int) -> None:
        payout = self.payouts_by_pending.get(t.pending_id or 0) or self.payouts_by_id.get(
            _number_after(t.reference, "payout") or 0
        )
        if payout is None:
            self._unattributed(t, signed, "paid_out")
            return
        self.add(payout.method, t.created_at, t.currency, "paid_out", signed)
        if signed > 0 and payout.state != PayoutState.paid:
            self.differ(
                DifferenceKind.payout_posted_not_paid,
                payout.method,
                t.created_at,
                f"payout:{payout.id}",
                f"payout {payout.id}: {_show(t.amount, t.currency)} posted to the payouts account, but the payout "
                f"is {payout.state}",
            )

    def _unattributed(self, t: LedgerTransfer, signed: int, column: str) -> None:
        self.add(UNATTRIBUTED, t.created_at, t.currency, column, signed)
        self.differ(
            DifferenceKind.unattributed_transfer,
            UNATTRIBUTED,
            t.created_at,
            t.reference,
            f"ledger transfer {t.id} ({t.kind}, {_show(t.amount, t.currency)}) names no payment, credit or payout",
        )

    def _payments(self, ids: Iterable[int]) -> dict[int, ProviderPayment]:
        found: dict[int, ProviderPayment] = {}
        for batch in _chunks(ids):
            found.update(
                (p.id, p) for p in self.session.scalars(select(ProviderPayment).where(ProviderPayment.id.in_(batch)))
            )
        return found

    def _find_payouts(self, moved: Sequence[LedgerTransfer]) -> None:
        """The payouts of the moved transfers: by the pending transfer a posting completes, else by `payout:<id>`."""
        pending_ids = [t.pending_id for t in moved if t.pending_id is not None]
        numbered = [n for t in moved if (n := _number_after(t.reference, "payout")) is not None]
        for batch in _chunks(pending_ids):
            self.payouts_by_pending.update(
                (p.pending_transfer_id, p)
                for p in self.session.scalars(select(Payout).where(Payout.pending_transfer_id.in_(batch)))
            )
        for batch in _chunks(numbered):
            self.payouts_by_id.update(
                (p.id, p) for p in self.session.scalars(select(Payout).where(Payout.id.in_(batch)))
            )

    def _payments_with_success_notice(self, ids: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for batch in _chunks(ids):
            found.update(
                self.session.scalars(
                    select(ProviderNotice.payment_id).where(
                        ProviderNotice.kind == NoticeKind.succeeded.value, ProviderNotice.payment_id.in_(batch)
                    )
                )
            )
        return found

    def _ledger_credits(self, references: Iterable[str]) -> dict[str, list[LedgerTransfer]]:
        """The transfers out of the funding account under these references, whenever they were made."""
        found: dict[str, list[LedgerTransfer]] = {}
        if not self.funding:
            return found
        for batch in _chunks(references):
            for t in self.session.scalars(
                select(LedgerTransfer).where(
                    LedgerTransfer.reference.in_(batch),
                    LedgerTransfer.debit_account_id.in_(self.funding),
                    LedgerTransfer.phase.in_(_MOVED),
                )
            ):
                found.setdefault(t.reference, []).append(t)
        return found

    # --- the providers' side -----------------------------------------------------------------------------------

    def provider_notices(self) -> None:
        """The providers' notices of money in (succeeded) and back out (refunded) in the period."""
        notices = list(
            self.session.scalars(
                select(ProviderNotice)
                .where(
                    ProviderNotice.kind.in_([NoticeKind.succeeded.value, NoticeKind.refunded.value]),
                    ProviderNotice.provider != "sandbox",  # its word is its payments' state: sandbox_payments()
                    *self._in_period(ProviderNotice.received_at),
                )
                .order_by(ProviderNotice.id)
            )
        )
        for refund in (n for n in notices if n.kind == NoticeKind.refunded):
            if refund.amount is not None and refund.currency is not None:
                self.add(refund.provider, refund.received_at, refund.currency, "notified", -refund.amount)
        succeeded = [n for n in notices if n.kind == NoticeKind.succeeded]
        payments = self._payments(n.payment_id for n in succeeded if n.payment_id is not None)
        credited = self._ledger_credits(f"payment:{pid}" for pid in payments)
        counted = self._first_matching_notices(payments)
        for notice in succeeded:
            payment = payments.get(notice.payment_id or 0)
            if payment is None:
                if notice.amount is not None and notice.currency is not None:
                    self.add(notice.provider, notice.received_at, notice.currency, "notified", notice.amount)
                self.differ(
                    DifferenceKind.notified_not_credited,
                    notice.provider,
                    notice.received_at,
                    notice.event_id,
                    f"{notice.provider} notified {_show(notice.amount, notice.currency)} (event {notice.event_id}) "
                    f"for no payment of ours; nothing credited",
                )
                continue
            if counted.get(payment.id) == notice.id and notice.amount is not None and notice.currency is not None:
                self.add(notice.provider, notice.received_at, notice.currency, "notified", notice.amount)
            self._check_notified_payment(notice, payment, credited.get(f"payment:{payment.id}", []))

    def _first_matching_notices(self, payments: dict[int, ProviderPayment]) -> dict[int, int]:
        """Per payment, the one succeeded notice its money is counted by: the first of the payment's amount,
        else the first (a provider may notify one success under several event ids)."""
        chosen: dict[int, int] = {}
        matched: set[int] = set()
        for batch in _chunks(payments):
            for notice in self.session.scalars(
                select(ProviderNotice)
                .where(ProviderNotice.kind == NoticeKind.succeeded.value, ProviderNotice.payment_id.in_(batch))
                .order_by(ProviderNotice.id)
            ):
                pid = notice.payment_id or 0
                payment = payments[pid]
                fits = (notice.amount, notice.currency) == (payment.amount, payment.currency)
                if pid not in chosen or (fits and pid not in matched):
                    chosen[pid] = notice.id
                if fits:
                    matched.add(pid)
        return chosen

    def _check_notified_payment(
        self, notice: ProviderNotice, payment: ProviderPayment, credits_of_payment: list[LedgerTransfer]
    ) -> None:
        notified = _show(notice.amount, notice.currency)
        if not credits_of_payment:
            self.differ(
                DifferenceKind.notified_not_credited,
                notice.provider,
                notice.received_at,
                payment.reference,
                f"payment {payment.id}: {notice.provider} notified {notified} (event {notice.event_id}), the ledger "
                f"credited nothing; what was done: {notice.outcome or 'nothing recorded'}",
            )
            return
        credited_amount = sum(t.amount for t in credits_of_payment)
        currency = credits_of_payment[0].currency
        if (notice.amount, notice.currency) != (credited_amount, currency):
            self.differ(
                DifferenceKind.amount_mismatch,
                notice.provider,
                notice.received_at,
                payment.reference,
                f"payment {payment.id}: {notice.provider} notified {notified} (event {notice.event_id}), the ledger "
                f"credited {_show(credited_amount, currency)}; what was done: {notice.outcome or 'nothing recorded'}",
            )

    def sandbox_payments(self) -> None:
        """The sandbox's succeeded payments (it sends no notices: the payment's state is its word)."""
        if not self._wanted("sandbox"):
            return
        settled = list(
            self.session.scalars(
                select(ProviderPayment).where(
                    ProviderPayment.provider == "sandbox",
                    ProviderPayment.state == PaymentState.succeeded.value,
                    ProviderPayment.settled_at.is_not(None),
                    *self._in_period(ProviderPayment.settled_at),
                )
            )
        )
        credited = self._ledger_credits(f"payment:{p.id}" for p in settled)
        for payment in settled:
            when = payment.settled_at or payment.created_at
            self.add("sandbox", when, payment.currency, "notified", payment.amount)
            transfers = credited.get(f"payment:{payment.id}", [])
            if sum(t.amount for t in transfers) != payment.amount:
                self.differ(
                    DifferenceKind.notified_not_credited if not transfers else DifferenceKind.amount_mismatch,
                    "sandbox",
                    when,
                    payment.reference,
                    f"payment {payment.id}: the sandbox charged {_show(payment.amount, payment.currency)}, the "
                    f"ledger credited {_show(sum(t.amount for t in transfers), payment.currency)}",
                )

    def admin_credits(self) -> None:
        """The admins' credits of the period against the ledger's `credit:<id>` transfers, both ways."""
        if not self._wanted(MANUAL):
            return
        made = list(
            self.session.scalars(
                select(AdminCredit).where(*self._in_period(AdminCredit.created_at)).order_by(AdminCredit.id)
            )
        )
        credited = self._ledger_credits(credits.ledger_reference(c) for c in made)
        for row in made:
            self.add(MANUAL, row.created_at, row.currency, "notified", row.amount)
            transfers = credited.get(credits.ledger_reference(row), [])
            had = sum(t.amount for t in transfers)
            if had != row.amount or any(t.currency != row.currency for t in transfers):
                self.differ(
                    DifferenceKind.notified_not_credited if not transfers else DifferenceKind.amount_mismatch,
                    MANUAL,
                    row.created_at,
                    row.reference,
                    f"admin credit {row.id} of {_show(row.amount, row.currency)} by {row.credited_by}: the ledger "
                    f"credited {_show(had, row.currency)}",
                )
        recorded: set[int] = set()
        for batch in _chunks(self.credit_ids):
            recorded.update(self.session.scalars(select(AdminCredit.id).where(AdminCredit.id.in_(batch))))
        for missing in sorted(self.credit_ids - recorded):
            for t in self._ledger_credits([f"credit:{missing}"]).get(f"credit:{missing}", []):
                self.differ(
                    DifferenceKind.credited_not_notified,
                    MANUAL,
                    t.created_at,
                    t.reference,
                    f"ledger transfer {t.id} credited {_show(t.amount, t.currency)}, but there is no admin credit "
                    f"{missing}",
                )

    def overdue_payments(self, cutoff: datetime) -> None:
        """Payments opened in the period and still `created` past the timeout (the reconcile job asks about them)."""
        for payment in self.session.scalars(
            select(ProviderPayment)
            .where(
                ProviderPayment.state == PaymentState.created.value,
                ProviderPayment.created_at <= cutoff,
                *self._in_period(ProviderPayment.created_at),
            )
            .order_by(ProviderPayment.id)
        ):
            self.differ(
                DifferenceKind.payment_overdue,
                payment.provider,
                payment.created_at,
                payment.reference,
                f"payment {payment.id} of {_show(payment.amount, payment.currency)}, opened "
                f"{payment.created_at:%Y-%m-%d %H:%M} UTC, is still waiting for {payment.provider}",
            )

    def payouts(self) -> None:
        """Payouts marked paid, or notified paid, in the period whose money the ledger did not post."""
        paid = list(
            self.session.scalars(
                select(Payout).where(
                    Payout.state == PayoutState.paid.value,
                    Payout.settled_at.is_not(None),
                    *self._in_period(Payout.settled_at),
                )
            )
        )
        notices = list(
            self.session.scalars(
                select(ProviderNotice).where(
                    ProviderNotice.kind == NoticeKind.payout_paid.value,
                    *self._in_period(ProviderNotice.received_at),
                )
            )
        )
        notified_payouts: dict[int, Payout] = {}
        for batch in _chunks(n.payout_id for n in notices if n.payout_id is not None):
            notified_payouts.update((p.id, p) for p in self.session.scalars(select(Payout).where(Payout.id.in_(batch))))
        posted = self._posted_pendings(p.pending_transfer_id for p in [*paid, *notified_payouts.values()])
        reported: set[int] = set()
        for payout in paid:
            if payout.pending_transfer_id not in posted:
                reported.add(payout.id)
                self.differ(
                    DifferenceKind.payout_not_posted,
                    payout.method,
                    payout.settled_at or payout.created_at,
                    f"payout:{payout.id}",
                    f"payout {payout.id} of {_show(payout.amount, payout.currency)} is marked paid, but the ledger "
                    f"did not post it",
                )
        for notice in notices:
            named = notified_payouts.get(notice.payout_id or 0)
            if named is None:
                self.differ(
                    DifferenceKind.payout_not_posted,
                    notice.provider,
                    notice.received_at,
                    notice.event_id,
                    f"{notice.provider} notified a paid payout of {_show(notice.amount, notice.currency)} (event "
                    f"{notice.event_id}) that is none of ours",
                )
            elif named.pending_transfer_id not in posted and named.id not in reported:
                reported.add(named.id)
                self.differ(
                    DifferenceKind.payout_not_posted,
                    named.method,
                    notice.received_at,
                    f"payout:{named.id}",
                    f"payout {named.id}: {notice.provider} notified it paid (event {notice.event_id}), but it is "
                    f"{named.state} and the ledger did not post it",
                )

    def _posted_pendings(self, pending_ids: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for batch in _chunks(pending_ids):
            found.update(
                pid
                for pid in self.session.scalars(
                    select(LedgerTransfer.pending_id).where(
                        LedgerTransfer.pending_id.in_(batch),
                        LedgerTransfer.phase == TransferPhase.post_pending.value,
                    )
                )
                if pid is not None
            )
        return found
