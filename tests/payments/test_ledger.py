"""The ledger rules, checked directly: balance, two phases, no overdraft, and the check finding tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from vetrina.accounts.models import Role
from vetrina.errors import Conflict, InvalidInput
from vetrina.money import Money
from vetrina.payments import escrow, ledger
from vetrina.payments.models import AccountKind, LedgerAccount


def test_two_phase_escrow_and_the_check(ctx, make_account):
    buyer, merchant = make_account(Role.viewer).user, make_account(Role.merchant).user
    with ctx.db.session(write=True) as session:
        funding = ledger.platform_account(session, AccountKind.funding, "EUR")
        wallet = ledger.account(session, AccountKind.wallet, buyer.id, "EUR")
        ledger.transfer(session, funding, wallet, Money(10_000, "EUR"), "topup", "t1")
        pending = escrow.pay_into_escrow(session, buyer.id, merchant.id, Money(4_000, "EUR"), "order:1")
        assert ledger.available(wallet) == 6_000 and wallet.debits_pending == 4_000
        with pytest.raises(ledger.InsufficientFunds):
            escrow.pay_into_escrow(session, buyer.id, merchant.id, Money(6_001, "EUR"), "order:2")
    with ctx.db.session(write=True) as session:
        net, commission = escrow.release_escrow(session, pending, merchant.id, 500, "order:1")
        assert (net.amount, commission.amount) == (3_800, 200)
    with ctx.db.session(write=True) as session, pytest.raises(Conflict):
        ledger.void(session, pending, "escrow_refund")  # already posted: one resolution only
    with ctx.db.session(snapshot=True) as session:
        report = ledger.check_ledger(session)
    assert report.ok, report.violations
    assert report.total_debits == report.total_credits == 10_000 + 4_000 + 3_800 + 200


def test_the_database_refuses_an_overdraft_even_past_the_code(ctx, make_account):
    buyer = make_account(Role.viewer).user
    with ctx.db.session(write=True) as session:
        wallet = ledger.account(session, AccountKind.wallet, buyer.id, "EUR")
        session.flush()
        wallet_id = wallet.id
    with pytest.raises(IntegrityError), ctx.db.session(write=True) as session:
        session.execute(update(LedgerAccount).where(LedgerAccount.id == wallet_id).values(debits_posted=1))


def test_malformed_transfers_are_refused(ctx, make_account):
    buyer = make_account(Role.viewer).user
    with ctx.db.session(write=True) as session:
        funding = ledger.platform_account(session, AccountKind.funding, "EUR")
        wallet = ledger.account(session, AccountKind.wallet, buyer.id, "EUR")
        usd = ledger.account(session, AccountKind.wallet, buyer.id, "USD")
        for debit, credit, amount in [
            (funding, wallet, Money(0, "EUR")),
            (funding, wallet, Money(-5, "EUR")),
            (wallet, wallet, Money(5, "EUR")),
            (funding, usd, Money(5, "EUR")),
        ]:
            with pytest.raises(InvalidInput):
                ledger.transfer(session, debit, credit, amount, "bad", "x")


def test_the_check_finds_tampered_totals_and_transfers(ctx, make_account):
    buyer = make_account(Role.viewer).user
    with ctx.db.session(write=True) as session:
        funding = ledger.platform_account(session, AccountKind.funding, "EUR")
        wallet = ledger.account(session, AccountKind.wallet, buyer.id, "EUR")
        ledger.transfer(session, funding, wallet, Money(500, "EUR"), "topup", "t")
        session.flush()
        wallet_id = wallet.id
    with ctx.db.session(write=True) as session:
        session.execute(update(LedgerAccount).where(LedgerAccount.id == wallet_id).values(credits_posted=900))
    with ctx.db.session(snapshot=True) as session:
        report = ledger.check_ledger(session)
    assert not report.ok
    assert any(f"account {wallet_id}" in v for v in report.violations)
    with ctx.db.session(write=True) as session:
        session.execute(update(LedgerAccount).where(LedgerAccount.id == wallet_id).values(credits_posted=500))
        session.execute(text("UPDATE ledger_transfers SET currency = 'USD'"))
    with ctx.db.session(snapshot=True) as session:
        report = ledger.check_ledger(session)
    assert any("USD on a EUR account" in v for v in report.violations)


def test_a_refused_transfer_leaves_the_credited_account_untouched(ctx, make_account):
    """Rows are locked in id order, so a credit to the older account moves before the debit's funds check: a refusal
    must undo it even for a caller that goes on and commits."""
    older, newer = make_account(Role.viewer).user, make_account(Role.viewer).user
    with ctx.db.session(write=True) as session:
        credit = ledger.account(session, AccountKind.wallet, older.id, "EUR")
        debit = ledger.account(session, AccountKind.wallet, newer.id, "EUR")
        assert credit.id < debit.id
    with ctx.db.session(write=True) as session:
        credit = ledger.account(session, AccountKind.wallet, older.id, "EUR")
        debit = ledger.account(session, AccountKind.wallet, newer.id, "EUR")
        with pytest.raises(ledger.InsufficientFunds):
            ledger.transfer(session, debit, credit, Money(500, "EUR"), "gift", "g1")
    with ctx.db.session() as session:
        assert ledger.find_account(session, AccountKind.wallet, older.id, "EUR").credits_posted == 0
        assert ledger.check_ledger(session).ok


def test_a_new_account_is_no_lock_held_by_the_transaction_that_made_it(ctx):
    """A buyer's `pay` made a merchant's first payable account and then waited for the buyer's wallet, which a
    provider's notice held while it waited to make the same account: a deadlock (PostgreSQL's READ COMMITTED waits
    on an uncommitted unique key). Made apart and committed, the second finds it at once."""
    if ctx.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: no second transaction runs meanwhile")
    with pytest.raises(LookupError), ctx.db.session(write=True) as first:
        made = ledger.account(first, AccountKind.merchant_payable, 424242, "CNY").id
        with ctx.db.session(write=True) as second:
            second.execute(text("SET LOCAL lock_timeout = '2s'"))  # a wait would fail here, not hang
            found = ledger.account(second, AccountKind.merchant_payable, 424242, "CNY").id
        raise LookupError("the first transaction rolls back")
    assert found == made
    with ctx.db.session() as after:
        kept = ledger.find_account(after, AccountKind.merchant_payable, 424242, "CNY")
        assert kept is not None and kept.id == made and ledger.available(kept) == 0
