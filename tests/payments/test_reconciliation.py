"""Reconciliation: per provider and day, what the providers notified against the ledger's funding and payouts
accounts; every difference listed, as JSON, CSV and a page for admins."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from tests.commerce.helpers import funded_buyer, ledger_ok, order, product, step
from tests.web.helpers import assert_problem, sign_in
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.commerce import checkout
from vetrina.money import Money
from vetrina.payments import ledger, provider_payments, reconciliation
from vetrina.payments.gateways import Notice, NoticeKind, PayMethod
from vetrina.payments.models import AccountKind, PaymentPurpose, Payout, PayoutState, ProviderPayment

NOW = datetime(2031, 3, 10, 10, 0, tzinfo=UTC)
TODAY = NOW.date().isoformat()
URL = "/api/v1/admin/reconciliation"


def open_top_up(ctx, account, provider: str, amount: Money) -> ProviderPayment:
    """A top-up opened at a provider as checkout.start_top_up records it (the trade itself is not needed here)."""
    with ctx.db.session(write=True) as session:
        payment = provider_payments.open_payment(
            session, account.user, provider, PaymentPurpose.topup, amount, PayMethod.page
        )
        session.flush()
        session.expunge(payment)
    return payment


def succeeded(payment: ProviderPayment, event_id: str, amount: Money | None = None) -> Notice:
    paid = amount or Money(payment.amount, payment.currency)
    return Notice(payment.provider, event_id, NoticeKind.succeeded, payment.reference, f"trade-{event_id}", paid)


def totals(rows: list[dict], provider: str) -> dict[str, int]:
    mine = [r for r in rows if r["provider"] == provider]
    return {key: sum(r[key] for r in mine) for key in ("notified", "credited", "paid_out", "difference")}


def shop_with_money_from_everywhere(client, ctx, make_account):
    """Sandbox top-ups and a sandbox order payment, an admin credit, and Alipay and Stripe top-ups settled by
    their notices (one of them delivered twice, and notified again under a second event id)."""
    clock.set_clock(lambda: NOW)
    admin, merchant = make_account(Role.admin), make_account(Role.merchant)
    buyer = funded_buyer(client, make_account, 10_000)
    client.post("/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 2_500, "currency": "EUR"})
    shopper = make_account(Role.viewer)
    shirt = product(client, merchant, price=1_999)
    placed = order(client, shopper, shirt["id"])
    paid = client.post(f"/api/v1/orders/{placed['id']}/payments", headers=shopper.auth, json={"provider": "sandbox"})
    assert paid.status_code == 202 and paid.json()["state"] == "succeeded", paid.text
    credited = client.post(
        f"/api/v1/admin/wallets/{buyer.user.id}/credits",
        headers=admin.auth,
        json={"amount": {"amount": 30_000, "currency": "EUR"}, "reference": "=SUM(A1:A9) wire"},
    )
    assert credited.status_code == 201, credited.text
    alipay = open_top_up(ctx, buyer, "alipay", Money(8_800, "CNY"))
    stripe = open_top_up(ctx, buyer, "stripe", Money(4_200, "EUR"))
    outcomes = checkout.settle(
        ctx,
        [
            succeeded(alipay, "ali-1"),
            succeeded(alipay, "ali-1"),  # the same notification again
            succeeded(stripe, "evt_session_completed"),
            succeeded(stripe, "evt_intent_succeeded"),  # Stripe tells of one success twice
        ],
    )
    assert outcomes == [
        "credited to the wallet",
        "credited to the wallet",
        "credited to the wallet",
        "already credited",
    ]
    return admin, buyer, alipay


def test_money_from_every_source_reconciles_with_no_difference(client, ctx, make_account):
    admin, _, _ = shop_with_money_from_everywhere(client, ctx, make_account)
    answer = client.get(URL, headers=admin.auth)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["differences"] == [] and report["ledger_ok"] is True
    assert (report["start"], report["end"]) == ((NOW - timedelta(days=6)).date().isoformat(), TODAY)
    assert {(r["provider"], r["day"], r["currency"]) for r in report["rows"]} == {
        ("alipay", TODAY, "CNY"),
        ("manual", TODAY, "EUR"),
        ("sandbox", TODAY, "EUR"),
        ("stripe", TODAY, "EUR"),
    }
    rows = report["rows"]
    assert totals(rows, "sandbox") == {"notified": 14_499, "credited": 14_499, "paid_out": 0, "difference": 0}
    assert totals(rows, "manual") == {"notified": 30_000, "credited": 30_000, "paid_out": 0, "difference": 0}
    assert totals(rows, "alipay") == {"notified": 8_800, "credited": 8_800, "paid_out": 0, "difference": 0}
    assert totals(rows, "stripe") == {"notified": 4_200, "credited": 4_200, "paid_out": 0, "difference": 0}
    only = client.get(URL, headers=admin.auth, params={"provider": "stripe"}).json()
    assert {r["provider"] for r in only["rows"]} == {"stripe"}
    earlier = client.get(URL, headers=admin.auth, params={"start": "2031-02-01", "end": "2031-03-09"}).json()
    assert earlier["rows"] == [] and earlier["differences"] == []


def test_every_inconsistency_is_listed_while_the_ledger_still_balances(client, ctx, make_account):
    admin, buyer, paid = shop_with_money_from_everywhere(client, ctx, make_account)
    # A payment opened two hours ago and never paid: past the 30 minutes' timeout.
    clock.set_clock(lambda: NOW - timedelta(hours=2))
    forgotten = open_top_up(ctx, buyer, "stripe", Money(1_500, "EUR"))
    clock.set_clock(lambda: NOW)
    # Notified for another amount than the payment's: refused, so the ledger credits nothing.
    short = open_top_up(ctx, buyer, "alipay", Money(5_000, "CNY"))
    [refused] = checkout.settle(ctx, [succeeded(short, "ali-short", Money(4_000, "CNY"))])
    assert refused.startswith("refused")
    # A credited payment notified once more, for a different amount.
    [again] = checkout.settle(ctx, [succeeded(paid, "ali-again", Money(9_900, "CNY"))])
    assert again.startswith("refused")
    # A notice of money the ledger never took in: recorded and nothing else.
    with ctx.db.session(write=True) as session:
        stray = Notice("alipay", "ali-stray", NoticeKind.succeeded, "vp-none", None, Money(10_000, "CNY"))
        assert provider_payments.record_notice(session, stray) is not None
    # Money the ledger took in for a payment nobody notified.
    unnotified = open_top_up(ctx, buyer, "stripe", Money(700, "EUR"))
    with ctx.db.session(write=True) as session:
        provider_payments.credit_wallet(session, session.get_one(ProviderPayment, unnotified.id))

    report = client.get(URL, headers=admin.auth).json()
    assert report["ledger_ok"] is True
    found = {(d["kind"], d["provider"], d["reference"]) for d in report["differences"]}
    assert found == {
        ("payment_overdue", "stripe", forgotten.reference),
        ("notified_not_credited", "alipay", short.reference),
        ("amount_mismatch", "alipay", paid.reference),
        ("notified_not_credited", "alipay", "ali-stray"),
        ("credited_not_notified", "stripe", unnotified.reference),
    }
    detail = {d["reference"]: d["detail"] for d in report["differences"]}
    assert "refused" in detail[short.reference] and "CN¥40.00" in detail[short.reference]
    assert all(d["day"] == TODAY for d in report["differences"])
    rows = report["rows"]
    assert totals(rows, "alipay") == {
        "notified": 8_800 + 4_000 + 10_000,
        "credited": 8_800,
        "paid_out": 0,
        "difference": 14_000,
    }
    assert totals(rows, "stripe")["difference"] == -700
    assert totals(rows, "sandbox")["difference"] == totals(rows, "manual")["difference"] == 0
    stripe_only = client.get(URL, headers=admin.auth, params={"provider": "stripe"}).json()
    assert {d["provider"] for d in stripe_only["differences"]} == {"stripe"} and len(stripe_only["differences"]) == 2
    ledger_ok(client, admin)


def test_the_rows_as_csv_with_no_formula_a_spreadsheet_would_run(client, ctx, make_account):
    admin, _, _ = shop_with_money_from_everywhere(client, ctx, make_account)
    as_json = client.get(URL, headers=admin.auth).json()["rows"]
    for answer in (
        client.get(URL, headers=admin.auth, params={"format": "csv"}),
        client.get(URL, headers={**admin.auth, "Accept": "text/csv"}),
    ):
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in answer.headers["content-disposition"]
        parsed = list(csv.DictReader(io.StringIO(answer.text)))
        assert [{k: str(v) for k, v in row.items()} for row in as_json] == parsed
    risky = reconciliation.Row('=HYPERLINK("http://evil")', "+1", "@EUR", notified=-5, credited=0)
    [header, line] = list(csv.reader(io.StringIO(reconciliation.as_csv([risky]))))
    assert header == list(reconciliation.CSV_COLUMNS)
    assert line == ['\'=HYPERLINK("http://evil")', "'+1", "'@EUR", "-5", "0", "0", "-5"]


def test_bad_periods_and_providers_are_422_and_only_admins_reconcile(client, make_account):
    clock.set_clock(lambda: NOW)
    admin, merchant = make_account(Role.admin), make_account(Role.merchant)
    for params, field in [
        ({"start": "2031-03-10", "end": "2031-03-01"}, "end"),
        ({"start": "2030-01-01", "end": "2031-03-10"}, "start"),
        ({"provider": "paypal"}, "provider"),
    ]:
        problem = assert_problem(client.get(URL, headers=admin.auth, params=params), 422, "invalid-input")
        assert problem["field"] == field
    for params in ({"start": "10/03/2031"}, {"format": "xlsx"}, {"end": "2031-02-30"}):
        assert_problem(client.get(URL, headers=admin.auth, params=params), 422, "invalid-input")
    # The calendar's ends (found by tests/web/test_api_fuzz.py): a 422 past them, never a 500.
    for params in ({"end": "9999-12-31"}, {"start": "9999-12-31"}):
        problem = assert_problem(client.get(URL, headers=admin.auth, params=params), 422, "invalid-input")
        assert problem["field"] == "end"
    first_week = client.get(URL, headers=admin.auth, params={"end": "0001-01-01"})
    assert first_week.status_code == 200 and first_week.json()["start"] == "0001-01-01"
    year = client.get(URL, headers=admin.auth, params={"start": "2030-03-10", "end": "2031-03-10"})
    assert year.status_code == 200  # 366 days, both ends included
    assert_problem(client.get(URL, headers=merchant.auth), 403, "forbidden")
    assert_problem(client.get(URL, headers=merchant.auth, params={"format": "csv"}), 403, "forbidden")
    assert_problem(client.get(URL), 401, "not-authenticated")


def test_the_page_shows_the_tables_and_differences_to_admins_only(client, ctx, make_account):
    admin, buyer, _ = shop_with_money_from_everywhere(client, ctx, make_account)
    with ctx.db.session(write=True) as session:
        stray = Notice("stripe", "evt_stray", NoticeKind.succeeded, "vp-none", None, Money(999, "EUR"))
        provider_payments.record_notice(session, stray)
    sign_in(client, buyer.user.email)
    assert client.get("/admin/reconciliation").status_code == 403
    client.post("/logout", data={"csrf_token": client.cookies.get("vetrina_csrf")})
    client.cookies.clear()
    signed_out = client.get("/admin/reconciliation", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")
    sign_in(client, admin.user.email)
    page = client.get("/admin/reconciliation")
    assert page.status_code == 200
    for provider in ("alipay", "manual", "sandbox", "stripe"):
        assert f'data-provider="{provider}"' in page.text
    assert 'data-kind="notified_not_credited"' in page.text and "evt_stray" in page.text
    assert f'href="/api/v1/admin/reconciliation?start={(NOW - timedelta(days=6)).date()}&amp;end={TODAY}' in page.text
    csv_answer = client.get(f"{URL}?format=csv")  # the page's link, with the admin's cookie
    assert csv_answer.status_code == 200 and csv_answer.text.startswith("provider,day,currency")
    narrowed = client.get("/admin/reconciliation", params={"provider": "manual"})
    assert 'data-provider="manual"' in narrowed.text and 'data-provider="stripe"' not in narrowed.text
    assert 'data-testid="no-differences"' in narrowed.text
    assert client.get("/admin/reconciliation", params={"start": "2031-04-01", "end": "2031-03-01"}).status_code == 422


def payout(ctx, merchant, amount: int, posted: bool) -> int:
    """A payout by hand marked paid, held in the ledger (merchant -> payouts) and, when `posted`, posted there."""
    with ctx.db.session(write=True) as session:
        payable = ledger.account(session, AccountKind.merchant_payable, merchant.user.id, "EUR")
        payouts = ledger.platform_account(session, AccountKind.payouts, "EUR")
        held = ledger.hold(session, payable, payouts, Money(amount, "EUR"), "payout", "payout")
        row = Payout(
            merchant_id=merchant.user.id,
            amount=amount,
            currency="EUR",
            method="manual",
            state=PayoutState.paid.value,
            pending_transfer_id=held.id,
            created_at=clock.now(),
            settled_at=clock.now(),
        )
        session.add(row)
        if posted:
            ledger.post(session, held.id, "payout_paid")
        session.flush()
        return row.id


def test_refunds_and_payouts_are_reconciled_too(client, ctx, make_account):
    admin, buyer, alipay = shop_with_money_from_everywhere(client, ctx, make_account)
    refund = Notice("alipay", "ali-refund", NoticeKind.refunded, alipay.reference, None, Money(800, "CNY"))
    assert checkout.settle(ctx, [refund]) == ["recorded: refunded"]
    with ctx.db.session(write=True) as session:
        wallet = ledger.account(session, AccountKind.wallet, buyer.user.id, "CNY")
        funding = ledger.platform_account(session, AccountKind.funding, "CNY")
        ledger.transfer(session, wallet, funding, Money(800, "CNY"), "refund", f"refund:{alipay.id}:1")
    merchant = make_account(Role.merchant)
    sold = product(client, merchant, price=2_000)
    placed = order(client, buyer, sold["id"])
    step(client, buyer, placed["id"], "pay")
    step(client, merchant, placed["id"], "ship", {"carrier": "DHL", "tracking": "JD1"})
    step(client, buyer, placed["id"], "confirm")  # 1 900 released to the merchant (5% commission)
    payout(ctx, merchant, 1_000, posted=True)
    unposted = payout(ctx, merchant, 500, posted=False)

    report = client.get(URL, headers=admin.auth).json()
    assert report["ledger_ok"] is True
    assert totals(report["rows"], "alipay") == {"notified": 8_000, "credited": 8_000, "paid_out": 0, "difference": 0}
    assert totals(report["rows"], "manual")["paid_out"] == 1_000
    assert [(d["kind"], d["reference"]) for d in report["differences"]] == [("payout_not_posted", f"payout:{unposted}")]
