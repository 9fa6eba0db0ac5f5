"""Payouts asked for at once, over real HTTP, never take more than could be withdrawn."""

from __future__ import annotations

import threading

import httpx

from tests.commerce.helpers import ledger_ok
from tests.payouts.helpers import ask, balance, campaign_with_spend, payouts_of, sell
from vetrina.accounts.models import Role

THREADS = 8


def test_payouts_asked_for_at_once_never_take_more_than_can_be_withdrawn(live_server, make_account):
    merchant, admin = make_account(Role.merchant), make_account(Role.admin)
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        sell(http, make_account, merchant, price=10_000)  # 9,500 released
        # Unbilled ad spend makes what can be withdrawn (6,500) less than what the ledger alone would let go (9,500):
        # the overdraft guard cannot stop a fourth payout here, only the payout's own check under its lock can.
        campaign_with_spend(live_server.ctx, merchant, spent=3_000)
        assert balance(http, merchant) == {"available": 6_500, "held": 0, "withdrawable": 6_500}

        start = threading.Barrier(THREADS)
        answers: list[int] = []
        errors: list[BaseException] = []

        def ask_at_once() -> None:
            try:
                with httpx.Client(base_url=live_server.url, timeout=60) as own:
                    start.wait(timeout=30)
                    answers.append(ask(own, merchant, 2_000).status_code)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=ask_at_once) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == [] and len(answers) == THREADS
        assert sorted(answers) == [201] * 3 + [422] * (THREADS - 3)  # 3 x 20.00 fit in 65.00; a fourth does not

        made = payouts_of(http, admin, state="requested")
        assert made["total"] == 3 and sum(p["amount"]["amount"] for p in made["items"]) == 6_000
        assert balance(http, merchant) == {"available": 500, "held": 0, "withdrawable": 500}
        ledger_ok(http, admin)
