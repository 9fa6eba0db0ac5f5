"""What a checkout request costs the database: statements and round trips of a create-order and of a pay, counted
with SQLAlchemy's events on the engine the server uses. A count above the ceiling fails: checkout got dearer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event

from tests.commerce.helpers import funded_buyer, product
from vetrina.accounts.models import Role

# Each request's one transaction, once the bearer token's owner is remembered (accounts.sign_ins; a sign-in not
# remembered costs one more statement in a transaction of its own).
CREATE_STATEMENTS = 6  # reserve stock (UPDATE ... RETURNING), order, item, history, webhooks, idempotency key
# read the order with its lines (PostgreSQL locks it first, alone), hold the wallet's money, transfer, order, history,
# webhooks, key
PAY_STATEMENTS = 7
TRANSACTIONS = 1


@dataclass
class Cost:
    statements: int = 0
    transactions: int = 0
    checkouts: int = 0

    @property
    def round_trips(self) -> int:
        """psycopg outside pipeline mode: each statement, BEGIN and COMMIT, and the pool's ping at checkout."""
        return self.statements + 2 * self.transactions + self.checkouts


@contextmanager
def counted(engine) -> Iterator[Cost]:
    cost = Cost()

    def statement(_conn, _cursor, sql: str, *_args) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE goes as a statement; it is counted as a transaction
            cost.statements += 1

    def begin(*_args) -> None:
        cost.transactions += 1

    def checkout(*_args) -> None:
        cost.checkouts += 1

    listeners = [
        (engine, "before_cursor_execute", statement),
        (engine, "begin", begin),
        (engine.pool, "checkout", checkout),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield cost
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)


def test_a_paid_order_costs_few_statements(client, make_account, ctx):
    ctx.queue.stop_in_process()  # the in-process job workers' own queries would be counted too
    merchant = make_account(Role.merchant)
    item = product(client, merchant, price=100, stock=10)
    buyer = funded_buyer(client, make_account)
    costs = []
    for _ in range(3):  # the third order is the steady state: the accounts it pays between are known by then
        with counted(ctx.db.engine) as create:
            placed = client.post(
                "/api/v1/orders",
                headers={**buyer.auth, "Idempotency-Key": uuid.uuid4().hex},
                json={"items": [{"product_id": item["id"], "quantity": 1}]},
            )
        assert placed.status_code == 201, placed.text
        with counted(ctx.db.engine) as pay:
            paid = client.post(
                f"/api/v1/orders/{placed.json()['id']}/pay", headers={**buyer.auth, "Idempotency-Key": uuid.uuid4().hex}
            )
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "WAIT_SELLER_SEND_GOODS"
        assert [e["action"] for e in paid.json()["history"]] == ["created", "paid"]
        costs.append((create, pay))
    create, pay = costs[-1]
    assert create.statements <= CREATE_STATEMENTS, create
    assert pay.statements <= PAY_STATEMENTS + (not ctx.db.is_sqlite), pay
    assert create.transactions == pay.transactions == TRANSACTIONS
    assert create.round_trips <= CREATE_STATEMENTS + 3 * TRANSACTIONS
    assert pay.round_trips <= PAY_STATEMENTS + 1 + 3 * TRANSACTIONS


def test_a_replayed_payment_costs_no_second_transfer(client, make_account, ctx):
    merchant = make_account(Role.merchant)
    item = product(client, merchant, price=100, stock=10)
    buyer = funded_buyer(client, make_account)
    placed = client.post(
        "/api/v1/orders", headers=buyer.auth, json={"items": [{"product_id": item["id"], "quantity": 1}]}
    )
    headers = {**buyer.auth, "Idempotency-Key": "once"}
    first = client.post(f"/api/v1/orders/{placed.json()['id']}/pay", headers=headers)
    written = []
    with counted(ctx.db.engine):
        event.listen(ctx.db.engine, "before_cursor_execute", lambda *a: written.append(a[2]))
        replay = client.post(f"/api/v1/orders/{placed.json()['id']}/pay", headers=headers)
    assert replay.status_code == 200 and replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert not [s for s in written if s.lstrip().upper().startswith("INSERT INTO LEDGER_TRANSFERS")]


def test_a_sold_out_order_is_refused_in_one_transaction_and_its_refusal_replayed(client, make_account, ctx):
    """A flash sale refuses most of its buyers: the refusal and its key's stored answer share one transaction, and
    a retry with the key gets that same answer without taking stock that came back since."""
    ctx.queue.stop_in_process()
    merchant = make_account(Role.merchant)
    item = product(client, merchant, price=100, stock=1)
    first, second = funded_buyer(client, make_account), funded_buyer(client, make_account)
    order = {"items": [{"product_id": item["id"], "quantity": 1}]}
    won = client.post("/api/v1/orders", headers={**first.auth, "Idempotency-Key": uuid.uuid4().hex}, json=order)
    assert won.status_code == 201, won.text
    late = {**second.auth, "Idempotency-Key": uuid.uuid4().hex}
    with counted(ctx.db.engine) as refusal:
        refused = client.post("/api/v1/orders", headers=late, json=order)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/conflict") and "stock" in refused.json()["detail"]
    assert refusal.transactions == TRANSACTIONS, refusal

    assert client.post(f"/api/v1/orders/{won.json()['id']}/cancel", headers=first.auth).status_code == 200
    again = client.post("/api/v1/orders", headers=late, json=order)
    assert again.status_code == 409 and again.json() == refused.json()
    assert again.headers["idempotent-replayed"] == "true"
    fresh = client.post("/api/v1/orders", headers={**second.auth, "Idempotency-Key": uuid.uuid4().hex}, json=order)
    assert fresh.status_code == 201, fresh.text  # the unit the cancel gave back was not taken by the replay
