"""Stripe: Checkout Sessions opened through the real SDK (pointed at a local Stripe), money credited only by the
webhook's signed events, once, whatever order or how often they arrive; disputes freeze what they dispute."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.commerce.helpers import ledger_ok, order, product, step, wallet
from tests.helpers import free_port
from tests.payments.stripe_server import deliver, dispute, event, signature
from tests.web.helpers import assert_problem
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.commerce import checkout, disputes
from vetrina.commerce.models import Order
from vetrina.money import Money
from vetrina.payments import ledger
from vetrina.payments.gateways import RefundRefused
from vetrina.payments.models import AccountKind, ProviderNotice, ProviderPayment
from vetrina.payments.stripe_gateway import StripeGateway
from vetrina.runtime import build_context
from vetrina.web.app import create_app

EUR_50 = {"amount": 5000, "currency": "EUR"}


def top_up(client, buyer, body=None, status=202) -> dict:
    response = client.post("/api/v1/wallet/topups", headers=buyer.auth, json={**(body or EUR_50), "provider": "stripe"})
    assert response.status_code == status, response.text
    return response.json()


def paid_top_up(client, server, buyer, body=None) -> tuple[dict, dict]:
    """A top-up the buyer paid on Stripe's page: (the payment as Vetrina answered it, the paid session)."""
    payment = top_up(client, buyer, body)
    return payment, server.pay(server.session_at(payment["pay_url"])["id"])


def completed(session: dict, event_id: str | None = None) -> dict:
    return event("checkout.session.completed", session, event_id)


def accepted(response) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}


def payment_row(ctx, payment_id: int) -> ProviderPayment:
    with ctx.db.session() as session:
        row = session.get_one(ProviderPayment, payment_id)
        session.expunge(row)
        return row


def notices(ctx, **where) -> list[ProviderNotice]:
    with ctx.db.session() as session:
        query = select(ProviderNotice).filter_by(provider="stripe", **where).order_by(ProviderNotice.id)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def test_a_top_up_opens_a_checkout_session_and_its_signed_webhook_credits_the_wallet_once(
    stripe_client, stripe_server, stripe_ctx, make_account
):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    payment = top_up(stripe_client, buyer)
    assert payment["provider"] == "stripe" and payment["state"] == "created" and payment["id"]
    assert payment["pay_url"].startswith("https://checkout.stripe.com/c/pay/cs_test_") and payment["qr_code"] is None
    opened = stripe_server.session_at(payment["pay_url"])
    reference = payment_row(stripe_ctx, payment["id"]).reference
    assert opened["client_reference_id"] == reference and opened["metadata"] == {"vetrina_reference": reference}
    assert (opened["amount_total"], opened["currency"], opened["mode"]) == (5000, "eur", "payment")
    method, path, sent = stripe_server.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert sent["payment_intent_data"] == {"metadata": {"vetrina_reference": reference}}
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "5000" and sent["success_url"].endswith("/wallet")
    assert wallet(stripe_client, buyer) == (0, 0)  # nothing before Stripe says so

    session = stripe_server.pay(opened["id"])
    paid = completed(session)
    accepted(deliver(stripe_client, paid))
    assert wallet(stripe_client, buyer) == (5000, 0)
    settled = stripe_client.get(f"/api/v1/wallet/topups/{payment['id']}", headers=buyer.auth).json()
    assert settled["state"] == "succeeded" and settled["settled_at"]
    assert payment_row(stripe_ctx, payment["id"]).provider_reference == session["payment_intent"]

    # Stripe re-sends an event (re-signed) until it has its 200: the same id changes nothing.
    accepted(deliver(stripe_client, paid))
    # Another event about the same PaymentIntent credits nothing either.
    accepted(deliver(stripe_client, event("checkout.session.async_payment_succeeded", session)))
    assert wallet(stripe_client, buyer) == (5000, 0)
    outcomes = [n.outcome for n in notices(stripe_ctx, payment_id=payment["id"])]
    assert outcomes == ["credited to the wallet", "already credited"]
    ledger_ok(stripe_client, admin)


def test_a_forged_stale_or_unsigned_event_is_a_400_and_credits_nothing(
    stripe_client, stripe_server, stripe_ctx, make_account
):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    _payment, session = paid_top_up(stripe_client, stripe_server, buyer)
    paid = completed(session)
    payload = json.dumps(paid)
    route = "/api/v1/providers/stripe/webhook"
    forged = deliver(stripe_client, paid, secret="whsec_someone_else")
    assert_problem(forged, 400, "forged-notification")
    stale = deliver(stripe_client, paid, at=int(time.time()) - 301)  # past the 300 s tolerance: a replay
    assert_problem(stale, 400, "forged-notification")
    tampered = payload.replace('"amount_total": 5000', '"amount_total": 500000')
    swapped = stripe_client.post(route, content=tampered, headers={"Stripe-Signature": signature(payload)})
    assert_problem(swapped, 400, "forged-notification")
    unsigned = stripe_client.post(route, content=payload, headers={"Content-Type": "application/json"})
    assert_problem(unsigned, 400, "forged-notification")
    garbled = stripe_client.post(route, content=b"\xff\xfe", headers={"Stripe-Signature": signature("x")})
    assert_problem(garbled, 400, "forged-notification")
    assert wallet(stripe_client, buyer) == (0, 0)
    assert notices(stripe_ctx) == []
    accepted(deliver(stripe_client, paid))  # the genuine one still counts
    assert wallet(stripe_client, buyer) == (5000, 0)
    ledger_ok(stripe_client, admin)


def test_a_duplicate_delivered_concurrently_is_credited_once(stripe_client, stripe_server, stripe_ctx, make_account):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    payment, session = paid_top_up(stripe_client, stripe_server, buyer)
    paid = completed(session)
    start = threading.Barrier(2)
    answers = []

    def post() -> None:
        start.wait()
        answers.append(deliver(stripe_client, paid).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200]
    assert wallet(stripe_client, buyer) == (5000, 0)
    assert len(notices(stripe_ctx, payment_id=payment["id"])) == 1
    ledger_ok(stripe_client, admin)


@pytest.mark.parametrize(("field", "value"), [("amount_total", 500), ("currency", "usd")])
def test_a_wrong_amount_or_currency_credits_nothing(
    stripe_client, stripe_server, stripe_ctx, make_account, field, value
):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    payment, session = paid_top_up(stripe_client, stripe_server, buyer)
    accepted(deliver(stripe_client, completed({**session, field: value})))
    assert wallet(stripe_client, buyer) == (0, 0)
    assert payment_row(stripe_ctx, payment["id"]).state == "created"
    [kept] = notices(stripe_ctx, payment_id=payment["id"])
    assert kept.outcome.startswith("refused:") and "nothing credited" in kept.outcome
    ledger_ok(stripe_client, admin)


def test_an_unknown_reference_is_answered_200_credits_nothing_and_is_kept(
    stripe_client, stripe_server, stripe_ctx, make_account
):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    _payment, session = paid_top_up(stripe_client, stripe_server, buyer)
    stranger = {**session, "client_reference_id": "vp_not_ours", "metadata": {}}
    accepted(deliver(stripe_client, completed(stranger, "evt_stranger")))
    assert wallet(stripe_client, buyer) == (0, 0)
    [kept] = notices(stripe_ctx, event_id="evt_stranger")
    assert kept.payment_id is None and kept.outcome.startswith("unknown reference")
    assert kept.raw["data"]["object"]["client_reference_id"] == "vp_not_ours"  # whole, for audit
    # A Payment Link of the same account, its URL given our reference (anyone can add ?client_reference_id=),
    # for the same amount: another session, without our metadata, credits nothing.
    link = {**session, "id": "cs_link", "payment_intent": "pi_link", "metadata": {}}
    accepted(deliver(stripe_client, completed(link, "evt_link")))
    assert wallet(stripe_client, buyer) == (0, 0)
    # An event Vetrina does not act on is answered 200 too, so Stripe stops sending it.
    accepted(deliver(stripe_client, event("customer.created", {"id": "cus_1", "object": "customer"})))
    ledger_ok(stripe_client, admin)


def test_an_expired_session_event_before_the_success_still_credits_once(
    stripe_client, stripe_server, stripe_ctx, make_account
):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    payment, session = paid_top_up(stripe_client, stripe_server, buyer)
    expired = {**session, "status": "expired", "payment_status": "unpaid", "payment_intent": None}
    accepted(deliver(stripe_client, event("checkout.session.expired", expired)))
    assert stripe_client.get(f"/api/v1/payments/{payment['id']}", headers=buyer.auth).json()["state"] == "failed"
    accepted(deliver(stripe_client, completed(session)))
    accepted(deliver(stripe_client, completed(session)))
    assert wallet(stripe_client, buyer) == (5000, 0)
    assert stripe_client.get(f"/api/v1/payments/{payment['id']}", headers=buyer.auth).json()["state"] == "succeeded"
    ledger_ok(stripe_client, admin)


def test_an_order_paid_directly_is_paid_into_escrow_by_the_webhook(
    stripe_client, stripe_server, stripe_ctx, make_account
):
    merchant, buyer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    shirt = product(stripe_client, merchant, price=2500, stock=3)
    placed = order(stripe_client, buyer, shirt["id"], quantity=2)
    answer = stripe_client.post(
        f"/api/v1/orders/{placed['id']}/payments", headers=buyer.auth, json={"provider": "stripe", "method": "qr"}
    )
    assert answer.status_code == 202, answer.text
    payment = answer.json()
    assert payment["purpose"] == "order" and payment["order_id"] == placed["id"] and payment["state"] == "created"
    # Stripe has no QR trade: the code is the Checkout page's URL, for a phone to open.
    assert payment["qr_code"] == payment["pay_url"] and payment["amount"] == {"amount": 5000, "currency": "EUR"}
    session = stripe_server.pay(stripe_server.session_at(payment["pay_url"])["id"])
    assert session["success_url"].endswith(f"/orders/{placed['id']}")
    assert stripe_client.get(f"/api/v1/orders/{placed['id']}", headers=buyer.auth).json()["status"] == "WAIT_BUYER_PAY"

    accepted(deliver(stripe_client, completed(session)))
    paid = stripe_client.get(f"/api/v1/orders/{placed['id']}", headers=buyer.auth).json()
    assert paid["status"] == "WAIT_SELLER_SEND_GOODS" and paid["history"][-1]["action"] == "paid_by_stripe"
    assert wallet(stripe_client, buyer) == (0, 5000)  # arrived and went on into escrow at once
    assert wallet(stripe_client, merchant) == (0, 5000)
    accepted(deliver(stripe_client, completed(session)))
    assert wallet(stripe_client, buyer) == (0, 5000)
    ledger_ok(stripe_client, admin)


def test_an_order_that_expired_meanwhile_leaves_the_money_in_the_wallet_and_says_so(
    stripe_client, stripe_server, stripe_ctx, make_account
):
    merchant, buyer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    placed = order(stripe_client, buyer, product(stripe_client, merchant, price=1500)["id"])
    answer = stripe_client.post(
        f"/api/v1/orders/{placed['id']}/payments", headers=buyer.auth, json={"provider": "stripe"}
    )
    assert answer.status_code == 202, answer.text
    payment = answer.json()
    session = stripe_server.pay(stripe_server.session_at(payment["pay_url"])["id"])
    later = clock.now() + timedelta(minutes=stripe_ctx.settings.order_ttl_minutes + 1)
    clock.set_clock(lambda: later)

    accepted(deliver(stripe_client, completed(session)))
    assert wallet(stripe_client, buyer) == (1500, 0)
    read = stripe_client.get(f"/api/v1/payments/{payment['id']}", headers=buyer.auth).json()
    assert read["state"] == "succeeded" and "money is in your wallet" in read["note"]
    unpaid = stripe_client.get(f"/api/v1/orders/{placed['id']}", headers=buyer.auth).json()
    assert unpaid["paid_at"] is None and unpaid["status"] in ("WAIT_BUYER_PAY", "TRADE_CLOSED")
    ledger_ok(stripe_client, admin)


def test_an_unreachable_stripe_is_a_502_and_nothing_is_half_written(stripe_settings, make_account):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    closed = stripe_settings.model_copy(update={"stripe_api_base": f"http://127.0.0.1:{free_port()}"})
    ctx = build_context(closed)
    try:
        with TestClient(create_app(ctx)) as client:
            problem = assert_problem(
                client.post("/api/v1/wallet/topups", headers=buyer.auth, json={**EUR_50, "provider": "stripe"}),
                502,
                "provider-unavailable",
            )
            assert "could not be reached" in problem["detail"]
            [failed] = client.get("/api/v1/wallet/topups", headers=buyer.auth).json()["items"]
            assert failed["state"] == "failed" and failed["pay_url"] is None and "could not open" in failed["note"]
            assert wallet(client, buyer) == (0, 0)
            ledger_ok(client, admin)
    finally:
        ctx.close()


def test_stripe_refusing_to_open_is_a_502_that_says_why(stripe_client, stripe_server, make_account):
    buyer = make_account(Role.viewer)
    stripe_server.refuse_next(500, "An unknown error occurred")
    problem = assert_problem(
        stripe_client.post("/api/v1/wallet/topups", headers=buyer.auth, json={**EUR_50, "provider": "stripe"}),
        502,
        "provider-unavailable",
    )
    assert "500" in problem["detail"] and "An unknown error occurred" in problem["detail"]
    assert wallet(stripe_client, buyer) == (0, 0)


def test_amounts_are_sent_in_stripes_units_and_unusable_currencies_are_refused(
    stripe_client, stripe_server, make_account
):
    buyer = make_account(Role.viewer)
    yen = top_up(stripe_client, buyer, {"amount": 500, "currency": "JPY"})
    assert stripe_server.session_at(yen["pay_url"])["amount_total"] == 500
    # ISO 4217 counts whole krónur; Stripe counts ISK in hundredths.
    krona = top_up(stripe_client, buyer, {"amount": 500, "currency": "ISK"})
    session = stripe_server.pay(stripe_server.session_at(krona["pay_url"])["id"])
    assert (session["amount_total"], session["currency"]) == (50_000, "isk")
    accepted(deliver(stripe_client, completed(session)))
    assert stripe_client.get("/api/v1/wallet?currency=ISK", headers=buyer.auth).json()["available"]["amount"] == 500
    refused = top_up(stripe_client, buyer, {"amount": 500, "currency": "LYD"}, status=422)
    assert refused["field"] == "currency"


def test_reconciliation_asks_stripe_about_sessions_left_pending(stripe_client, stripe_server, stripe_ctx, make_account):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    paid, session = paid_top_up(stripe_client, stripe_server, buyer)
    lapsed = top_up(stripe_client, buyer)
    stripe_server.expire(stripe_server.session_at(lapsed["pay_url"])["id"])
    still_open = top_up(stripe_client, buyer)
    later = clock.now() + timedelta(minutes=stripe_ctx.settings.provider_payment_timeout_minutes + 1)
    clock.set_clock(lambda: later)

    checkout.reconcile_pending(stripe_ctx)
    states = {
        p["id"]: p["state"] for p in stripe_client.get("/api/v1/wallet/topups", headers=buyer.auth).json()["items"]
    }
    assert states == {paid["id"]: "succeeded", lapsed["id"]: "failed", still_open["id"]: "expired"}
    assert wallet(stripe_client, buyer) == (5000, 0)
    [asked] = notices(stripe_ctx, payment_id=paid["id"])
    assert asked.event_id == f"query:{session['id']}"
    # The webhook arriving after the answer credits nothing more.
    accepted(deliver(stripe_client, completed(session)))
    assert wallet(stripe_client, buyer) == (5000, 0)
    # Once paid, the payment is known by its PaymentIntent: Stripe is asked by that.
    gateway = StripeGateway.from_settings(stripe_ctx.settings)
    again = gateway.query(payment_row(stripe_ctx, paid["id"]))
    assert again is not None and again.kind == "succeeded" and again.amount == Money(5000, "EUR")
    ledger_ok(stripe_client, admin)


def test_a_refund_goes_back_through_stripe_once_per_reference(stripe_client, stripe_server, stripe_ctx, make_account):
    buyer = make_account(Role.viewer)
    payment, session = paid_top_up(stripe_client, stripe_server, buyer)
    accepted(deliver(stripe_client, completed(session)))
    gateway = StripeGateway.from_settings(stripe_ctx.settings)
    row = payment_row(stripe_ctx, payment["id"])
    first = gateway.refund(row, Money(2000, "EUR"), "refund-1")
    assert first == gateway.refund(row, Money(2000, "EUR"), "refund-1")  # a retry: the same refund
    second = gateway.refund(row, Money(3000, "EUR"), "refund-2")
    assert first != second and len(stripe_server.refunds) == 2
    assert stripe_server.refunds[first]["payment_intent"] == session["payment_intent"]
    with pytest.raises(RefundRefused, match="greater than unrefunded"):  # verified: safe to give back
        gateway.refund(row, Money(1, "EUR"), "refund-3")


# Disputes


def dispute_event(session: dict, status: str | None = None, amount: int | None = None) -> dict:
    if status is None:
        return event("charge.dispute.created", dispute(session, amount=amount))
    return event("charge.dispute.closed", dispute(session, status, amount))


def outcome_of(ctx, kind: str) -> str:
    [notice] = notices(ctx, kind=kind)
    return notice.outcome


@pytest.mark.parametrize("ending", ["won", "lost"])
def test_a_disputed_top_up_is_frozen_in_the_wallet_until_the_dispute_ends(
    stripe_client, stripe_server, stripe_ctx, make_account, ending
):
    buyer, admin = make_account(Role.viewer), make_account(Role.admin)
    _payment, session = paid_top_up(stripe_client, stripe_server, buyer)
    accepted(deliver(stripe_client, completed(session)))
    opened = dispute_event(session)
    accepted(deliver(stripe_client, opened))
    accepted(deliver(stripe_client, opened))
    assert wallet(stripe_client, buyer) == (0, 5000)
    assert (
        outcome_of(stripe_ctx, "dispute_opened") == "dispute opened: €50.00 of €50.00 frozen in the wallet it credited"
    )
    ledger_ok(stripe_client, admin)

    accepted(deliver(stripe_client, dispute_event(session, ending)))
    if ending == "won":
        assert wallet(stripe_client, buyer) == (5000, 0)
    else:
        assert wallet(stripe_client, buyer) == (0, 0)
        assert outcome_of(stripe_ctx, "dispute_lost").startswith("dispute lost: €50.00 went back to the buyer's bank")
    # A late duplicate of the other ending changes nothing.
    other = "lost" if ending == "won" else "won"
    accepted(deliver(stripe_client, dispute_event(session, other)))
    assert wallet(stripe_client, buyer) == ((5000, 0) if ending == "won" else (0, 0))
    ledger_ok(stripe_client, admin)


def test_a_dispute_on_a_spent_top_up_freezes_what_is_left_and_says_so(
    stripe_client, stripe_server, stripe_ctx, make_account
):
    merchant, buyer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    _payment, session = paid_top_up(stripe_client, stripe_server, buyer)
    accepted(deliver(stripe_client, completed(session)))
    placed = order(stripe_client, buyer, product(stripe_client, merchant, price=3000)["id"])
    step(stripe_client, buyer, placed["id"], "pay")
    accepted(deliver(stripe_client, dispute_event(session)))
    assert wallet(stripe_client, buyer) == (0, 5000)  # 3000 in escrow for the order, 2000 frozen
    assert outcome_of(stripe_ctx, "dispute_opened").endswith("; it held only €20.00")
    accepted(deliver(stripe_client, dispute_event(session, "lost")))
    assert outcome_of(stripe_ctx, "dispute_lost").endswith("€30.00 could not be recovered: the platform bears it")
    assert wallet(stripe_client, buyer) == (0, 3000)
    ledger_ok(stripe_client, admin)


def direct_order_paid(client, server, buyer, merchant, price: int = 4000) -> tuple[dict, dict, dict]:
    placed = order(client, buyer, product(client, merchant, price=price, stock=1)["id"])
    answer = client.post(f"/api/v1/orders/{placed['id']}/payments", headers=buyer.auth, json={"provider": "stripe"})
    assert answer.status_code == 202, answer.text
    session = server.pay(server.session_at(answer.json()["pay_url"])["id"])
    accepted(deliver(client, completed(session)))
    return placed, answer.json(), session


def test_a_disputed_order_in_escrow_is_not_released_and_a_lost_dispute_closes_it(
    stripe_client, stripe_server, stripe_ctx, make_account
):
    merchant, buyer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    placed, _payment, session = direct_order_paid(stripe_client, stripe_server, buyer, merchant)
    step(stripe_client, merchant, placed["id"], "ship", {"carrier": "DHL", "tracking": "1"})
    accepted(deliver(stripe_client, dispute_event(session)))
    assert outcome_of(stripe_ctx, "dispute_opened") == f"dispute opened: €40.00 frozen in order {placed['id']}'s escrow"
    disputed = stripe_client.get(f"/api/v1/orders/{placed['id']}", headers=buyer.auth).json()
    assert disputed["history"][-1]["action"] == "dispute_opened" and "€40.00" in disputed["history"][-1]["note"]
    with stripe_ctx.db.session() as db, pytest.raises(disputes.DisputeOpen, match="stays in escrow"):
        disputes.refuse_while_disputed(db, db.get_one(Order, placed["id"]))
    assert wallet(stripe_client, buyer) == (0, 4000)
    ledger_ok(stripe_client, admin)

    accepted(deliver(stripe_client, dispute_event(session, "lost")))
    closed = stripe_client.get(f"/api/v1/orders/{placed['id']}", headers=buyer.auth).json()
    assert closed["status"] == "TRADE_CLOSED" and closed["refunded"]["amount"] == 4000
    assert closed["history"][-1]["action"] == "dispute_lost"
    assert wallet(stripe_client, buyer) == (0, 0)  # the money is back on the buyer's card, not in the wallet
    assert wallet(stripe_client, merchant) == (0, 0)
    with stripe_ctx.db.session() as db:
        disputes.refuse_while_disputed(db, db.get_one(Order, placed["id"]))  # nothing frozen any more
    ledger_ok(stripe_client, admin)


def test_a_won_dispute_lets_the_order_be_released(stripe_client, stripe_server, stripe_ctx, make_account):
    merchant, buyer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    placed, _payment, session = direct_order_paid(stripe_client, stripe_server, buyer, merchant)
    accepted(deliver(stripe_client, dispute_event(session)))
    accepted(deliver(stripe_client, dispute_event(session, "won")))
    assert outcome_of(stripe_ctx, "dispute_won") == f"dispute won: €40.00 unfrozen in order {placed['id']}'s escrow"
    with stripe_ctx.db.session() as db:
        disputes.refuse_while_disputed(db, db.get_one(Order, placed["id"]))
    step(stripe_client, merchant, placed["id"], "ship", {"carrier": "DHL", "tracking": "1"})
    assert step(stripe_client, buyer, placed["id"], "confirm")["status"] == "TRADE_FINISHED"
    assert wallet(stripe_client, merchant) == (3800, 0)
    ledger_ok(stripe_client, admin)


def test_a_dispute_after_release_freezes_the_merchants_balance(stripe_client, stripe_server, stripe_ctx, make_account):
    merchant, buyer, admin = make_account(Role.merchant), make_account(Role.viewer), make_account(Role.admin)
    placed, _payment, session = direct_order_paid(stripe_client, stripe_server, buyer, merchant)
    step(stripe_client, merchant, placed["id"], "ship", {"carrier": "DHL", "tracking": "1"})
    step(stripe_client, buyer, placed["id"], "confirm")

    def payable() -> tuple[int, int]:
        with stripe_ctx.db.session() as db:
            account = ledger.find_account(db, AccountKind.merchant_payable, merchant.user.id, "EUR")
            return ledger.available(account), account.debits_pending

    assert payable() == (3800, 0)  # 4000 less the 5 % commission
    accepted(deliver(stripe_client, dispute_event(session)))
    assert payable() == (0, 3800)
    assert outcome_of(stripe_ctx, "dispute_opened").endswith("; it held only €38.00")
    ledger_ok(stripe_client, admin)
    accepted(deliver(stripe_client, dispute_event(session, "lost")))
    assert payable() == (0, 0)
    lost = outcome_of(stripe_ctx, "dispute_lost")
    assert "€38.00 went back" in lost and lost.endswith("€2.00 could not be recovered: the platform bears it")
    assert wallet(stripe_client, buyer) == (0, 0)
    ledger_ok(stripe_client, admin)


def test_a_dispute_for_no_payment_of_ours_is_kept_and_changes_nothing(stripe_client, stripe_ctx, make_account):
    admin = make_account(Role.admin)
    stranger = {"payment_intent": "pi_not_ours", "amount_total": 100, "currency": "eur"}
    accepted(deliver(stripe_client, dispute_event(stranger)))
    assert outcome_of(stripe_ctx, "dispute_opened").startswith("unknown reference")
    ledger_ok(stripe_client, admin)
