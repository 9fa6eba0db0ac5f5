"""Admin credits: money received by bank transfer, put in a wallet by an admin (API) or an operator (CLI), once per
reference, in the ledger with who did it."""

from __future__ import annotations

import threading

from sqlalchemy import select
from typer.testing import CliRunner

from tests.commerce.helpers import ledger_ok, wallet
from tests.web.helpers import assert_problem
from vetrina.accounts.models import Role
from vetrina.cli import app as cli_app
from vetrina.errors import VetrinaError
from vetrina.money import Money
from vetrina.payments import credits
from vetrina.payments.models import AdminCredit, LedgerTransfer

EUR_120_50 = {"amount": 12_050, "currency": "EUR"}


def credits_url(user_id: int) -> str:
    return f"/api/v1/admin/wallets/{user_id}/credits"


def run_cli(settings, *args: str):
    """`vetrina ...` in this process, against the test's database (as an operator runs it on the server)."""
    env = {"VETRINA_DATABASE_URL": settings.database_url, "VETRINA_DATA_DIR": str(settings.data_dir)}
    return CliRunner().invoke(cli_app, list(args), env=env)


def test_an_admin_credits_a_wallet_once_per_reference_and_says_who(client, make_account):
    admin, buyer, other = make_account(Role.admin), make_account(Role.viewer), make_account(Role.viewer)
    body = {"amount": EUR_120_50, "reference": "  SEPA 2031-0042  "}
    made = client.post(credits_url(buyer.user.id), headers=admin.auth, json=body)
    assert made.status_code == 201, made.text
    credit = made.json()
    assert credit["user_id"] == buyer.user.id and credit["amount"] == EUR_120_50
    assert credit["reference"] == "SEPA 2031-0042"
    assert credit["credited_by"] == f"user {admin.user.id} ({admin.user.email})"
    assert wallet(client, buyer) == (12_050, 0)

    again = client.post(credits_url(buyer.user.id), headers=admin.auth, json=body)
    assert again.status_code == 200 and again.json() == credit  # the replay: the first credit, nothing moved
    assert wallet(client, buyer) == (12_050, 0)

    for changed_user, changed_amount in [
        (buyer, {"amount": 12_000, "currency": "EUR"}),
        (buyer, {"amount": 12_050, "currency": "USD"}),
        (other, EUR_120_50),
    ]:
        reused = client.post(
            credits_url(changed_user.user.id),
            headers=admin.auth,
            json={"amount": changed_amount, "reference": "SEPA 2031-0042"},
        )
        problem = assert_problem(reused, 409, "credit-reference-reused")
        assert "SEPA 2031-0042" in problem["detail"] and problem["credit_id"] == credit["id"]
    assert wallet(client, buyer) == (12_050, 0) and wallet(client, other) == (0, 0)

    with client.app.state.ctx.db.session() as session:
        [moved] = session.scalars(select(LedgerTransfer).where(LedgerTransfer.kind == "admin_credit")).all()
    assert (moved.amount, moved.currency, moved.reference) == (12_050, "EUR", f"credit:{credit['id']}")
    ledger_ok(client, admin)


def test_bad_credits_are_specific_problems_and_change_nothing(client, make_account):
    admin, buyer, merchant = make_account(Role.admin), make_account(Role.viewer), make_account(Role.merchant)
    url = credits_url(buyer.user.id)
    for body, field in [
        ({"amount": EUR_120_50}, "reference"),
        ({"amount": EUR_120_50, "reference": "   "}, "reference"),
        ({"amount": EUR_120_50, "reference": "x" * 101}, "reference"),
        ({"amount": EUR_120_50, "reference": "line\nbreak"}, "reference"),
        ({"amount": EUR_120_50, "reference": "tab\there"}, "reference"),
        ({"amount": {"amount": 0, "currency": "EUR"}, "reference": "r1"}, "amount"),
        ({"amount": {"amount": -500, "currency": "EUR"}, "reference": "r1"}, "amount"),
    ]:
        assert assert_problem(client.post(url, headers=admin.auth, json=body), 422, "invalid-input")["field"] == field
    wrong_currency = client.post(url, headers=admin.auth, json={"amount": {"amount": 5, "currency": "XXX"}})
    assert_problem(wrong_currency, 422, "invalid-input")
    fine = {"amount": EUR_120_50, "reference": "r1"}
    assert_problem(client.post(url, headers=buyer.auth, json=fine), 403, "forbidden")
    assert_problem(client.post(url, headers=merchant.auth, json=fine), 403, "forbidden")
    assert_problem(client.post(url, json=fine), 401, "not-authenticated")
    assert_problem(client.post(credits_url(2**31 - 1), headers=admin.auth, json=fine), 404, "not-found")
    assert client.post(credits_url(0), headers=admin.auth, json=fine).status_code == 422
    assert wallet(client, buyer) == (0, 0)
    with client.app.state.ctx.db.session() as session:
        assert session.scalars(select(AdminCredit)).all() == []
    # A reference of exactly 100 characters is fine.
    assert client.post(url, headers=admin.auth, json={**fine, "reference": "y" * 100}).status_code == 201


def test_concurrent_credits_under_one_reference_credit_once(ctx, make_account):
    buyer = make_account(Role.viewer).user
    racers = 4
    start = threading.Barrier(racers)
    results: list[tuple[int, bool]] = []
    failures: list[BaseException] = []

    def race() -> None:
        try:
            start.wait()
            with ctx.db.session(write=True) as session:
                row, created = credits.credit(session, buyer, Money(5_000, "EUR"), "WIRE-77", "test")
                results.append((row.id, created))
        except (VetrinaError, OSError) as exc:
            failures.append(exc)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(results) == racers and len({rid for rid, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * (racers - 1) + [True]
    with ctx.db.session() as session:
        moved = session.scalars(select(LedgerTransfer).where(LedgerTransfer.kind == "admin_credit")).all()
        assert [(t.amount, t.reference) for t in moved] == [(5_000, f"credit:{results[0][0]}")]


def test_the_command_line_credits_once_per_reference_and_refuses_clearly(settings, client, make_account):
    buyer = make_account(Role.viewer, email="bank-buyer@example.com")
    done = run_cli(settings, "wallets", "credit", "Bank-Buyer@example.com", "120.50", "eur", "--reference", "BANK-1")
    assert done.exit_code == 0, done.output
    assert "credited €120.50 to bank-buyer@example.com" in done.stdout and "BANK-1" in done.stdout
    assert wallet(client, buyer) == (12_050, 0)
    with client.app.state.ctx.db.session() as session:
        [row] = session.scalars(select(AdminCredit)).all()
    assert row.credited_by.startswith("cli (") and (row.amount, row.currency) == (12_050, "EUR")

    again = run_cli(settings, "wallets", "credit", "bank-buyer@example.com", "120.5", "EUR", "--reference", "BANK-1")
    assert again.exit_code == 0 and "already credited" in again.stdout
    assert wallet(client, buyer) == (12_050, 0)

    for args, says in [
        (("bank-buyer@example.com", "99.00", "EUR", "--reference", "BANK-1"), "BANK-1"),
        (("ghost@example.com", "10", "EUR", "--reference", "BANK-2"), "no user ghost@example.com"),
        (("bank-buyer@example.com", "12,5", "EUR", "--reference", "BANK-3"), "not an amount"),
        (("bank-buyer@example.com", "0", "EUR", "--reference", "BANK-4"), "more than zero"),
        (("bank-buyer@example.com", "10.001", "EUR", "--reference", "BANK-5"), "at most 2 decimals"),
        (("bank-buyer@example.com", "10", "EURO", "--reference", "BANK-6"), "ISO 4217"),
        (("bank-buyer@example.com", "10", "EUR", "--reference", " "), "needs a reference"),
    ]:
        refused = run_cli(settings, "wallets", "credit", *args)
        assert refused.exit_code == 2 and says in refused.stderr, (args, refused.output)
    no_reference = run_cli(settings, "wallets", "credit", "bank-buyer@example.com", "10", "EUR")
    assert no_reference.exit_code == 2 and "--reference" in no_reference.output
    assert wallet(client, buyer) == (12_050, 0)
    admin = make_account(Role.admin)
    ledger_ok(client, admin)
