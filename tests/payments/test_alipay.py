"""Alipay as a funding provider: the real python-alipay-sdk against a local gateway that answers and notifies as
Alipay does, with RSA2 keys made here. Money arrives only with a verified notification, once."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import parse_qsl

from sqlalchemy import select

from tests.commerce.helpers import ledger_ok, order, product, step
from tests.payments.alipay_helpers import register_page_trade
from tests.web.helpers import assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.commerce import checkout
from vetrina.payments import funding, source_refunds
from vetrina.payments.models import LedgerTransfer, ProviderNotice, ProviderPayment

CNY_50 = {"amount": 5000, "currency": "CNY"}
NOTIFY = "/api/v1/providers/alipay/notify"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _top_up(site, buyer, method="page", **body):
    response = site.client.post(
        "/api/v1/wallet/topups", headers=buyer.auth, json={**CNY_50, "provider": "alipay", "method": method, **body}
    )
    assert response.status_code == 202, response.text
    return response.json()


def _notify(site, body: bytes):
    return site.client.post(NOTIFY, content=body, headers=FORM)


def _cny(site, account) -> int:
    return site.client.get("/api/v1/wallet?currency=CNY", headers=account.auth).json()["available"]["amount"]


def _payment(site, account, payment_id):
    return site.client.get(f"/api/v1/payments/{payment_id}", headers=account.auth).json()


def test_a_page_top_up_is_credited_only_by_the_verified_notification(alipay, make_account):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    started = _top_up(alipay, buyer)
    assert started["state"] == "created" and started["provider"] == "alipay"
    assert started["pay_url"].startswith(alipay.fake.url + "?")
    trade = register_page_trade(alipay.fake, started["pay_url"])
    assert trade.total_amount == "50.00"
    assert _cny(alipay, buyer) == 0  # nothing before Alipay says so
    answer = _notify(alipay, alipay.fake.notification(trade.out_trade_no))
    assert answer.status_code == 200 and answer.text == "success"
    assert _cny(alipay, buyer) == 5000
    listed = alipay.client.get("/api/v1/wallet/topups", headers=buyer.auth).json()
    assert [p["state"] for p in listed["items"]] == ["succeeded"]
    assert alipay.client.get(f"/api/v1/wallet/topups/{started['id']}", headers=buyer.auth).json()["settled_at"]
    stranger = make_account(Role.viewer)
    assert_problem(alipay.client.get(f"/api/v1/payments/{started['id']}", headers=stranger.auth), 404, "not-found")
    ledger_ok(alipay.client, admin)


def test_amounts_alipay_sends_are_read_alike_whatever_language_the_request_speaks(alipay, make_account):
    """Alipay writes "50.00" whoever is served: an Italian request (which would read that as no amount) credits it."""
    buyer = make_account(Role.viewer)
    trade = register_page_trade(alipay.fake, _top_up(alipay, buyer)["pay_url"])
    body = alipay.fake.notification(trade.out_trade_no)
    answer = alipay.client.post(NOTIFY, content=body, headers={**FORM, "Accept-Language": "it-IT"})
    assert answer.status_code == 200 and answer.text == "success"
    assert _cny(alipay, buyer) == 5000


def test_a_forged_or_foreign_notification_is_refused_and_credits_nothing(alipay, make_account):
    buyer = make_account(Role.viewer)
    trade = register_page_trade(alipay.fake, _top_up(alipay, buyer)["pay_url"])
    forged = alipay.fake.notification(trade.out_trade_no, sign=alipay.fake.app.sign("trade_status=TRADE_SUCCESS"))
    assert_problem(_notify(alipay, forged), 400, "forged-notification")
    tampered = dict(parse_qsl(alipay.fake.notification(trade.out_trade_no).decode()))
    tampered["total_amount"] = "5000.00"  # signed for 50.00
    assert_problem(alipay.client.post(NOTIFY, data=tampered, headers=FORM), 400, "forged-notification")
    other_app = alipay.fake.notification(trade.out_trade_no, app_id="2021999999999999")
    assert_problem(_notify(alipay, other_app), 400, "forged-notification")
    assert_problem(_notify(alipay, b"\xff\xfe not a form"), 400, "forged-notification")
    assert _cny(alipay, buyer) == 0
    with alipay.ctx.db.session() as session:
        assert session.query(ProviderNotice).count() == 0  # nothing unverified is kept


def test_a_replayed_notification_and_a_second_success_credit_once(alipay, make_account):
    buyer = make_account(Role.viewer)
    trade = register_page_trade(alipay.fake, _top_up(alipay, buyer)["pay_url"])
    body = alipay.fake.notification(trade.out_trade_no)
    for _ in range(3):
        assert _notify(alipay, body).text == "success"
    finished = alipay.fake.notification(trade.out_trade_no, status="TRADE_FINISHED")  # a new notify_id
    assert _notify(alipay, finished).text == "success"
    assert _cny(alipay, buyer) == 5000


def test_a_duplicate_delivered_concurrently_credits_once(alipay, make_account):
    buyer = make_account(Role.viewer)
    trade = register_page_trade(alipay.fake, _top_up(alipay, buyer)["pay_url"])
    gateway = funding.gateway(alipay.ctx, "alipay")
    notices = gateway.parse_notification({}, alipay.fake.notification(trade.out_trade_no))
    outcomes: list[list[str]] = []
    threads = [threading.Thread(target=lambda: outcomes.append(checkout.settle(alipay.ctx, notices))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 4
    assert _cny(alipay, buyer) == 5000


def test_a_wrong_amount_or_currency_or_an_unknown_reference_is_answered_but_never_credited(alipay, make_account):
    buyer = make_account(Role.viewer)
    trade = register_page_trade(alipay.fake, _top_up(alipay, buyer)["pay_url"])
    assert _notify(alipay, alipay.fake.notification(trade.out_trade_no, total_amount="0.50")).text == "success"
    usd = alipay.fake.notification(trade.out_trade_no, trans_currency="USD")
    assert _notify(alipay, usd).text == "success"
    assert _notify(alipay, alipay.fake.notification("vp-not-ours")).text == "success"
    assert _cny(alipay, buyer) == 0
    with alipay.ctx.db.session() as session:
        outcomes = sorted(n.outcome for n in session.query(ProviderNotice))
    assert len(outcomes) == 3  # each kept, for audit
    assert sum("refused" in o for o in outcomes) == 2 and any("unknown reference" in o for o in outcomes)


def test_a_closing_notice_before_the_success_does_not_lose_the_money(alipay, make_account):
    buyer = make_account(Role.viewer)
    started = _top_up(alipay, buyer)
    trade = register_page_trade(alipay.fake, started["pay_url"])
    assert _notify(alipay, alipay.fake.notification(trade.out_trade_no, status="TRADE_CLOSED")).text == "success"
    assert _payment(alipay, buyer, started["id"])["state"] == "failed"
    assert _notify(alipay, alipay.fake.notification(trade.out_trade_no)).text == "success"
    assert _payment(alipay, buyer, started["id"])["state"] == "succeeded"
    assert _cny(alipay, buyer) == 5000


def test_an_order_paid_by_qr_goes_into_escrow_with_the_notification(alipay, make_account):
    merchant, buyer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    item = product(alipay.client, merchant, price=12_800, currency="CNY")
    placed = order(alipay.client, buyer, item["id"])
    response = alipay.client.post(
        f"/api/v1/orders/{placed['id']}/payments", headers=buyer.auth, json={"provider": "alipay", "method": "qr"}
    )
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["qr_code"].startswith("https://qr.alipay.com/") and started["purpose"] == "order"
    assert alipay.fake.calls == ["alipay.trade.precreate"]
    assert alipay.fake.trades[next(iter(alipay.fake.trades))].total_amount == "128.00"
    (out_trade_no,) = alipay.fake.trades
    assert _notify(alipay, alipay.fake.notification(out_trade_no)).text == "success"
    paid = alipay.client.get(f"/api/v1/orders/{placed['id']}", headers=buyer.auth).json()
    assert paid["status"] == "WAIT_SELLER_SEND_GOODS"
    assert [(p["id"], p["provider"], p["state"]) for p in paid["payments"]] == [(started["id"], "alipay", "succeeded")]
    assert _cny(alipay, buyer) == 0  # straight on into escrow
    assert _payment(alipay, buyer, started["id"])["state"] == "succeeded"
    step(alipay.client, merchant, placed["id"], "ship", {"carrier": "SF", "tracking": "SF1"})
    step(alipay.client, buyer, placed["id"], "confirm")
    ledger_ok(alipay.client, admin)


def test_a_notification_for_an_order_that_expired_leaves_the_money_in_the_wallet(alipay, make_account):
    merchant, buyer = make_account(Role.merchant), make_account(Role.viewer)
    item = product(alipay.client, merchant, price=900, currency="CNY")
    placed = order(alipay.client, buyer, item["id"])
    started = alipay.client.post(
        f"/api/v1/orders/{placed['id']}/payments", headers=buyer.auth, json={"provider": "alipay", "method": "qr"}
    ).json()
    later = clock.now() + timedelta(minutes=alipay.ctx.settings.order_ttl_minutes + 1)
    clock.set_clock(lambda: later)
    (out_trade_no,) = alipay.fake.trades
    assert _notify(alipay, alipay.fake.notification(out_trade_no)).text == "success"
    assert _cny(alipay, buyer) == 900
    closed = alipay.client.get(f"/api/v1/orders/{placed['id']}", headers=buyer.auth).json()
    assert closed["status"] == "TRADE_CLOSED"
    payment = _payment(alipay, buyer, started["id"])
    assert payment["state"] == "succeeded" and "wallet" in payment["note"]


def test_alipay_takes_cny_only_and_an_unreachable_gateway_is_a_502_with_nothing_half_written(alipay, make_account):
    buyer = make_account(Role.viewer)
    eur = alipay.client.post(
        "/api/v1/wallet/topups", headers=buyer.auth, json={"amount": 500, "currency": "EUR", "provider": "alipay"}
    )
    assert "CNY" in assert_problem(eur, 422, "invalid-input")["detail"]
    alipay.fake.unreachable = True
    refused = alipay.client.post(
        "/api/v1/wallet/topups", headers=buyer.auth, json={**CNY_50, "provider": "alipay", "method": "qr"}
    )
    assert_problem(refused, 502, "provider-unavailable")
    alipay.fake.unreachable = False
    alipay.fake.forge_answers = True  # an answer not signed by Alipay's key
    assert_problem(
        alipay.client.post(
            "/api/v1/wallet/topups", headers=buyer.auth, json={**CNY_50, "provider": "alipay", "method": "qr"}
        ),
        502,
        "provider-unavailable",
    )
    states = [p["state"] for p in alipay.client.get("/api/v1/wallet/topups", headers=buyer.auth).json()["items"]]
    assert states == ["failed", "failed"]
    assert _cny(alipay, buyer) == 0


def test_a_retry_with_the_same_idempotency_key_opens_one_trade(alipay, make_account):
    buyer = make_account(Role.viewer)
    headers = {**buyer.auth, "Idempotency-Key": "scan-once"}
    body = {**CNY_50, "provider": "alipay", "method": "qr"}
    first = alipay.client.post("/api/v1/wallet/topups", headers=headers, json=body).json()
    again = alipay.client.post("/api/v1/wallet/topups", headers=headers, json=body).json()
    assert first["id"] == again["id"] and first["qr_code"] == again["qr_code"]
    assert alipay.fake.calls == ["alipay.trade.precreate"]
    other = alipay.client.post("/api/v1/wallet/topups", headers=headers, json={**body, "amount": 6000})
    assert_problem(other, 422, "idempotency-key-reused")


def test_reconciliation_asks_alipay_about_trades_left_open(alipay, make_account):
    buyer = make_account(Role.viewer)
    paid = _top_up(alipay, buyer, method="qr")
    abandoned = _top_up(alipay, buyer, method="qr")
    unopened = _top_up(alipay, buyer)  # a page payment the buyer never opened: Alipay has no such trade
    trades = list(alipay.fake.trades.values())
    trades[0].status = "TRADE_SUCCESS"  # paid, but the notification never came
    later = clock.now() + timedelta(minutes=alipay.ctx.settings.provider_payment_timeout_minutes + 1)
    clock.set_clock(lambda: later)
    checkout.reconcile_pending(alipay.ctx)
    assert _payment(alipay, buyer, paid["id"])["state"] == "succeeded"
    assert _payment(alipay, buyer, abandoned["id"])["state"] == "expired"
    assert trades[1].status == "TRADE_CLOSED"  # closed at Alipay, so it cannot be paid late
    assert _payment(alipay, buyer, unopened["id"])["state"] == "expired"
    assert _cny(alipay, buyer) == 5000
    checkout.reconcile_pending(alipay.ctx)  # again: nothing more
    assert _cny(alipay, buyer) == 5000


def test_notifications_are_refused_where_alipay_is_not_configured(client):
    assert_problem(client.post(NOTIFY, content=b"a=b", headers=FORM), 404, "not-found")


def _run_queued_jobs(site) -> list[str]:
    """Run what the site queued, as a worker would (one pass)."""
    ran = []
    while (task := site.ctx.queue.huey.dequeue()) is not None:
        ran.append(task.name)
        site.ctx.queue.huey.execute(task)
    return ran


def test_an_order_paid_through_alipay_is_refunded_through_alipay(alipay, make_account):
    merchant, buyer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    item = product(alipay.client, merchant, price=10_000, currency="CNY")
    placed = order(alipay.client, buyer, item["id"])
    alipay.client.post(
        f"/api/v1/orders/{placed['id']}/payments", headers=buyer.auth, json={"provider": "alipay", "method": "qr"}
    )
    (out_trade_no,) = alipay.fake.trades
    _notify(alipay, alipay.fake.notification(out_trade_no))
    refund = step(
        alipay.client,
        buyer,
        placed["id"],
        "refunds",
        {"amount": {"amount": 2500, "currency": "CNY"}, "reason": "one of two missing"},
        status=201,
    )
    step(alipay.client, merchant, placed["id"], f"refunds/{refund['id']}/accept")
    assert _cny(alipay, buyer) == 0  # reserved for Alipay, not spendable twice
    assert "payments.refund_to_source" in _run_queued_jobs(alipay)
    assert alipay.fake.trades[out_trade_no].refunds == {f"refund-{refund['id']}": "25.00"}
    assert (
        _cny(alipay, buyer) == 0
        and alipay.client.get("/api/v1/wallet?currency=CNY", headers=buyer.auth).json()["held"]["amount"] == 7500
    )
    ledger_ok(alipay.client, admin)


def _refund_paid_order(alipay, make_account, price: int):
    merchant, buyer = make_account(Role.merchant), make_account(Role.viewer)
    item = product(alipay.client, merchant, price=price, currency="CNY")
    placed = order(alipay.client, buyer, item["id"])
    alipay.client.post(
        f"/api/v1/orders/{placed['id']}/payments", headers=buyer.auth, json={"provider": "alipay", "method": "qr"}
    )
    (out_trade_no,) = alipay.fake.trades
    _notify(alipay, alipay.fake.notification(out_trade_no))
    refund = step(alipay.client, buyer, placed["id"], "refunds", {"reason": "never came"}, status=201)
    step(alipay.client, merchant, placed["id"], f"refunds/{refund['id']}/accept")
    with alipay.ctx.db.session() as session:
        pending = session.scalars(select(LedgerTransfer).where(LedgerTransfer.kind == "refund_to_source")).one()
        payment_id = session.scalars(select(ProviderPayment.id)).one()
    return buyer, payment_id, pending.id, f"refund-{refund['id']}"


def test_a_refund_alipay_refuses_goes_back_to_the_wallet(alipay, make_account):
    admin = make_account(Role.admin)
    alipay.fake.refuse_refunds = True
    buyer, payment_id, pending_id, reference = _refund_paid_order(alipay, make_account, 4_000)
    source_refunds.send_refund(alipay.ctx, payment_id, pending_id, reference, 1)
    assert _cny(alipay, buyer) == 4_000  # back to spend here, and said so
    assert "could not be refunded" in _payment(alipay, buyer, payment_id)["note"]
    ledger_ok(alipay.client, admin)


def test_a_refund_of_unknown_outcome_stays_reserved_and_is_asked_again(alipay, make_account):
    admin = make_account(Role.admin)
    buyer, payment_id, pending_id, reference = _refund_paid_order(alipay, make_account, 4_000)
    alipay.fake.unreachable = True
    source_refunds.send_refund(alipay.ctx, payment_id, pending_id, reference, 9)  # long after the first try
    assert _cny(alipay, buyer) == 0  # not spendable: Alipay may have refunded it
    assert alipay.ctx.queue.pending_count() >= 1  # asked again later
    alipay.fake.unreachable = False
    _run_queued_jobs(alipay)
    source_refunds.send_refund(alipay.ctx, payment_id, pending_id, reference, 10)  # the scheduled retry, now due
    (trade,) = alipay.fake.trades.values()
    assert trade.refunds == {reference: "40.00"} and _cny(alipay, buyer) == 0
    ledger_ok(alipay.client, admin)
