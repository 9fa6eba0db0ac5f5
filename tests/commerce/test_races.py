"""Deterministic races: the first writer holds its lock while the second arrives, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from vetrina.accounts.models import Role
from vetrina.catalog import service as catalog
from vetrina.commerce import service as orders
from vetrina.errors import Conflict
from vetrina.money import Money
from vetrina.payments import wallet
from vetrina.payments.funding import SandboxFundingProvider


def _buyer(ctx, make_account, amount: int):
    account = make_account(Role.viewer)
    with ctx.db.session(write=True) as session:
        wallet.top_up(session, SandboxFundingProvider(10**9), account.user, Money(amount, "EUR"), "seed")
    return account.user


def _product(ctx, make_account, stock: int, price: int = 1000):
    merchant = make_account(Role.merchant).user
    with ctx.db.session(write=True) as session:
        return catalog.create_product(
            session,
            merchant,
            title="Last one",
            description="",
            price=Money(price, "EUR"),
            stock=stock,
            variants=[],
            published=True,
        ).id


def _second_writer(ctx, action) -> tuple[threading.Thread, list]:
    """Start `action` in its own transaction on another thread; it must wait for the first writer."""
    outcome: list = []

    def run() -> None:
        try:
            with ctx.db.session(write=True) as session:
                outcome.append(action(session))
        except Exception as exc:  # the test inspects what it was
            outcome.append(exc)

    thread = threading.Thread(target=run)
    return thread, outcome


def test_two_payments_of_the_same_order_move_money_once(ctx, make_account):
    product_id = _product(ctx, make_account, stock=1)
    buyer = _buyer(ctx, make_account, 5000)
    with ctx.db.session(write=True) as session:
        order_id = orders.create_order(session, ctx.settings, ctx.queue, buyer, [orders.ItemSpec(product_id, 1)]).id

    second, outcome = _second_writer(ctx, lambda s: orders.pay(s, ctx.queue, order_id, buyer).status)
    with ctx.db.session(write=True) as session:
        orders.pay(session, ctx.queue, order_id, buyer)  # holds the order's lock until commit
        second.start()
        second.join(timeout=0.5)
        assert second.is_alive(), "the second payment did not wait for the first"
    second.join(timeout=30)
    assert isinstance(outcome[0], orders.IllegalTransition), outcome
    assert outcome[0].extra["current_status"] == "WAIT_SELLER_SEND_GOODS"
    with ctx.db.session() as session:
        view = wallet.wallet_view(session, buyer, "EUR")
    assert (view.available.amount, view.held.amount) == (4000, 1000)


def test_two_buyers_for_the_last_unit(ctx, make_account):
    product_id = _product(ctx, make_account, stock=1)
    first, second_buyer = _buyer(ctx, make_account, 5000), _buyer(ctx, make_account, 5000)
    item = [orders.ItemSpec(product_id, 1)]
    second, outcome = _second_writer(
        ctx, lambda s: orders.create_order(s, ctx.settings, ctx.queue, second_buyer, item).id
    )
    with ctx.db.session(write=True) as session:
        won = orders.create_order(session, ctx.settings, ctx.queue, first, item)
        second.start()
        second.join(timeout=0.5)
        assert second.is_alive(), "the second order did not wait for the first"
    second.join(timeout=30)
    assert isinstance(outcome[0], Conflict) and "stock" in outcome[0].detail
    with ctx.db.session() as session:
        assert catalog.get_product(session, product_id, None).stock == 0
        assert orders.list_orders(session, second_buyer, 1, 10).total == 0
        assert orders.list_orders(session, first, 1, 10).items[0].id == won.id


@pytest.mark.parametrize("attempts", [8])
def test_many_buyers_never_oversell(ctx, make_account, attempts):
    product_id = _product(ctx, make_account, stock=3)
    buyers = [_buyer(ctx, make_account, 5000) for _ in range(attempts)]
    results: list = []
    start = threading.Barrier(attempts)

    def buy(user) -> None:
        start.wait()
        try:
            with ctx.db.session(write=True) as session:
                results.append(
                    orders.create_order(session, ctx.settings, ctx.queue, user, [orders.ItemSpec(product_id, 1)]).id
                )
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=buy, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(isinstance(r, int) for r in results) == 3
    assert sum(isinstance(r, Conflict) for r in results) == attempts - 3
    with ctx.db.session() as session:
        assert catalog.get_product(session, product_id, None).stock == 0
