"""The merchant's /payouts page and the admin's /admin/payouts page: they render, and their forms work only with
the page's CSRF token."""

from __future__ import annotations

import re

from tests.commerce.helpers import ledger_ok
from tests.payouts.helpers import balance, payouts_of, sell, top_up
from tests.web.helpers import csrf_from, form_token, sign_in
from vetrina.accounts.models import Role


def _shown(page: str, testid: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}">([^<]*)<', page)


def test_the_merchant_sees_its_balance_and_asks_for_a_payout(client, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    sell(client, make_account, merchant, price=10_000)
    top_up(client, merchant, 1_000)
    sign_in(client, merchant.user.email)
    assert 'href="/payouts"' in client.get("/wallet").text
    page = client.get("/payouts").text
    assert _shown(page, "available") == ["€105.00"] and _shown(page, "withdrawable") == ["€95.00"]
    token = csrf_from(page)
    key = re.search(r'name="request_key" value="([^"]+)"', page).group(1)

    forged = client.post("/payouts", data={"amount": "20.00", "currency": "EUR", "csrf_token": "forged"})
    assert forged.status_code == 403
    too_much = client.post("/payouts", data={"amount": "96.00", "currency": "EUR", "csrf_token": token})
    assert too_much.status_code == 200 and "can be paid out now" in too_much.text
    assert payouts_of(client, merchant)["total"] == 0

    form = {"amount": "20.00", "currency": "EUR", "csrf_token": token, "request_key": key}
    asked = client.post("/payouts", data=form)
    assert asked.status_code == 200 and "Payout of €20.00 requested." in asked.text
    client.post("/payouts", data=form)  # sent twice (a double click): one payout
    assert payouts_of(client, merchant)["total"] == 1
    assert balance(client, merchant) == {"available": 8_500, "held": 0, "withdrawable": 7_500}
    listed = client.get("/payouts").text
    assert "bank transfer" in listed and "requested" in listed and _shown(listed, "withdrawable") == ["€75.00"]

    account = {"csrf_token": token, "bank_details": "A. Merchant\nDE89370400440532013000", "stripe_account": "nope"}
    refused = client.post("/payouts/account", data=account)
    assert "acct_" in refused.text
    saved = client.post("/payouts/account", data={**account, "stripe_account": ""})
    assert "Payout account saved." in saved.text and "DE89370400440532013000" in saved.text
    assert client.get("/api/v1/payouts/account", headers=merchant.auth).json()["bank_details"] == (
        "A. Merchant\nDE89370400440532013000"
    )
    assert client.get("/admin/payouts").status_code == 403
    ledger_ok(client, admin)


def test_only_merchants_have_a_payouts_page(client, make_account):
    buyer = make_account(Role.viewer)
    assert client.get("/payouts", follow_redirects=False).status_code == 401
    sign_in(client, buyer.user.email)
    assert client.get("/payouts").status_code == 403
    assert 'href="/payouts"' not in client.get("/wallet").text
    token = form_token(client, "/wallet")
    assert client.post("/payouts", data={"amount": "20", "currency": "EUR", "csrf_token": token}).status_code == 403


def test_the_admin_marks_bank_payouts_paid_or_failed(client, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    sell(client, make_account, merchant, price=10_000)
    ask_body = {"amount": {"amount": 3_000, "currency": "EUR"}}
    first = client.post("/api/v1/payouts", headers=merchant.auth, json=ask_body).json()
    second = client.post("/api/v1/payouts", headers=merchant.auth, json=ask_body).json()
    sign_in(client, admin.user.email)
    page = client.get("/admin/payouts").text
    assert merchant.user.email in page and 'href="/api/v1/admin/payouts.csv"' in page
    assert (
        f'action="/admin/payouts/{first["id"]}/paid"' in page
        and f'action="/admin/payouts/{second["id"]}/failed"' in page
    )
    token = csrf_from(page)
    csv_text = client.get("/api/v1/admin/payouts.csv").text  # the page's link, with the admin's cookie
    assert csv_text.count("\n") == 3

    forged = client.post(f"/admin/payouts/{first['id']}/paid", data={"reference": "B-1", "csrf_token": "x"})
    assert forged.status_code == 403
    paid = client.post(f"/admin/payouts/{first['id']}/paid", data={"reference": "B-1", "csrf_token": token})
    assert paid.status_code == 200 and f"Payout {first['id']} marked paid." in paid.text
    again = client.post(f"/admin/payouts/{first['id']}/paid", data={"reference": "B-2", "csrf_token": token})
    assert "already paid" in again.text
    failed = client.post(f"/admin/payouts/{second['id']}/failed", data={"reason": "Closed", "csrf_token": token})
    assert "marked failed" in failed.text
    assert f'data-payout="{first["id"]}"' not in failed.text and "No payouts waiting." in failed.text
    assert balance(client, merchant) == {"available": 6_500, "held": 0, "withdrawable": 6_500}
    states = {p["id"]: (p["state"], p["reference"]) for p in payouts_of(client, merchant)["items"]}
    assert states == {first["id"]: ("paid", "B-1"), second["id"]: ("failed", None)}
    ledger_ok(client, admin)
