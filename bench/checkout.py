"""Checkout benchmark: what a paid order (create + pay, an Idempotency-Key on each) costs a real `vetrina serve`,
beside a trivial route of the same server and pgbench on the same PostgreSQL, in one run; then the same on SQLite.

Load comes from Node (bench/load.mjs: autocannon for the ceilings, an open-loop sender for latency), so the server
keeps the cores, and each row gives the server's own CPU per answer. Per database:
  1. ceilings, closed loop: GET /healthz, and create-then-pay sequences (each connection its own buyer), in
     alternating rounds, medians (this machine's speed drifts by the minute);
  2. latency at a fixed offered rate of half the checkout ceiling: pay (orders made beforehand) and /healthz at
     that same rate, p50 / p99 / p99.9 measured from each request's due time;
  3. a flash sale: `--flash-buyers` buyers race for `--flash-stock` units of one product, all at once; the time until
     every buyer has its answer (a shed 503 is an answer), beside the same number of /healthz requests at once;
     a new product each round, the round with the median time reported.
Ends each database with the ledger check and the count of units sold. On PostgreSQL it also bounds what group
commit could save: the checkout ceiling with commits waited for beside `synchronous_commit=off`, in alternating rounds.

    .venv/bin/python bench/checkout.py [--connections 16] [--seconds 5] [--rounds 3] [--processes 2]
        [--only postgres|sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import psycopg
from databases import databases
from live import node_load, served, server_pids
from sqlalchemy import func, select

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role, User
from vetrina.catalog.models import Product
from vetrina.commerce import service as orders
from vetrina.commerce.models import Order, OrderStatus
from vetrina.money import Money
from vetrina.payments import ledger
from vetrina.payments.models import AccountKind
from vetrina.runtime import build_context
from vetrina.settings import Settings

POSTGRES = os.environ.get("VETRINA_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WALLET = 100_000_000  # every buyer's sandbox money, in cents: enough for any run


def pgbench_tps(clients: int, seconds: int) -> float:
    """TPC-B-like transactions per second from pgbench, in a throwaway database on the same server."""
    url = POSTGRES.replace("+psycopg", "")
    name = f"vetrina_pgbench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        target = url.rsplit("/", 1)[0] + "/" + name
        subprocess.run(["pgbench", "-i", "-q", "-s", "10", target], check=True, capture_output=True)
        result = subprocess.run(
            ["pgbench", "-b", "tpcb-like", "-c", str(clients), "-j", "2", "-T", str(seconds), target],
            check=True,
            capture_output=True,
            text=True,
        )
        found = re.search(r"tps = ([\d.]+)", result.stdout)
        return float(found.group(1)) if found else 0.0
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


class Shop:
    """A merchant's products and funded buyers with API tokens, written straight to the database (a thousand
    sign-ups through argon2 would take minutes and measure nothing of checkout)."""

    def __init__(self, settings: Settings) -> None:
        self.ctx = build_context(settings)
        with self.ctx.db.session(write=True) as session:
            self.merchant = accounts.create_user(session, "seller@bench.example", "bench password", Role.merchant)
            admin = accounts.create_user(session, "admin@bench.example", "bench password", Role.admin)
            session.flush()
            self.admin_token = accounts.create_api_token(session, admin)

    def product(self, stock: int) -> int:
        now = clock.now()
        with self.ctx.db.session(write=True) as session:
            item = Product(
                merchant_id=self.merchant.id,
                title=f"Bench tea {secrets.token_hex(2)}",
                description="",
                price_amount=100,
                currency="EUR",
                stock=stock,
                published=True,
                deleted=False,
                created_at=now,
                updated_at=now,
            )
            session.add(item)
            session.flush()
            return item.id

    def buyers(self, count: int) -> list[tuple[User, str]]:
        made = []
        with self.ctx.db.session(write=True) as session:
            funding = ledger.platform_account(session, AccountKind.funding, "EUR")
            for _ in range(count):
                user = User(
                    email=f"b{secrets.token_hex(6)}@bench.example",
                    password_hash="!",  # noqa: S106  (no password: signs in by token only)
                    role=Role.viewer.value,
                    created_at=clock.now(),
                )
                session.add(user)
                session.flush()
                wallet = ledger.account(session, AccountKind.wallet, user.id, "EUR")
                ledger.transfer(session, funding, wallet, Money(WALLET, "EUR"), "topup", f"bench:{user.id}")
                made.append((user, accounts.create_api_token(session, user)))
        return made

    def open_orders(self, buyers: list[tuple[User, str]], product_id: int, count: int) -> list[list]:
        """`count` unpaid orders, spread over the buyers: what the open-loop pay run pays."""
        made = []
        with self.ctx.db.session(write=True) as session:
            for i in range(count):
                user, token = buyers[i % len(buyers)]
                placed = orders.create_order(self.ctx, session, user, [orders.ItemSpec(product_id, 1)], territory="IT")
                made.append([token, placed.id])
        return made

    def sold(self, product_id: int) -> tuple[int, int]:
        """(units in paid orders, stock left) of a product."""
        with self.ctx.db.session() as session:
            paid = session.scalar(
                select(func.count())
                .select_from(Order)
                .join(Order.items)
                .where(Order.status == OrderStatus.WAIT_SELLER_SEND_GOODS.value, Order.items.any(product_id=product_id))
            )
            left = session.scalar(select(Product.stock).where(Product.id == product_id))
        return int(paid or 0), int(left or 0)

    def close(self) -> None:
        self.ctx.close()


def write_json(folder: Path, name: str, value: object) -> str:
    path = folder / name
    path.write_text(json.dumps(value))
    return str(path)


def run_on(database: str, database_url: str | None, work: Path, options: argparse.Namespace) -> dict:
    settings = Settings(data_dir=work, database_url=database_url)
    shop = Shop(settings)
    try:
        steady = shop.product(10_000_000)
        buyers = shop.buyers(max(options.connections, 64))
        flash_buyers = shop.buyers(options.flash_buyers)
        buyers_file = write_json(work, "buyers.json", {"product_id": steady, "tokens": [t for _, t in buyers]})
        env = {
            **os.environ,
            "VETRINA_DATA_DIR": str(work),
            "VETRINA_SECRET_KEY": "bench",
            "VETRINA_FUNDING_PROVIDERS": '["sandbox"]',
            "VETRINA_RATE_LIMITS_ENABLED": "false",  # every buyer on loopback, as fast as it can: a load test
        }
        if database_url:
            env["VETRINA_DATABASE_URL"] = database_url
        rows: dict = {}
        with served(env, options.processes) as (base, server):
            pids = server_pids(server)
            print(f"{database}: ceilings, {options.rounds} alternating rounds ...", file=sys.stderr)
            rows["healthz"], rows["checkout"] = alternating_ceilings(
                base,
                pids,
                [("--path", "/healthz"), ("--checkout", "--buyers", buyers_file)],
                options,
            )
            half = max(1, int(rows["checkout"]["rate"] / 2))
            secs = str(options.open_seconds)
            print(f"{database}: pay and /healthz at {half}/s, open loop ...", file=sys.stderr)
            to_pay = shop.open_orders(buyers, steady, half * options.open_seconds)
            pay_file = write_json(work, "pay.json", {"orders": to_pay})
            rows["pay_open"] = node_load("open", base, pids, "--pay", pay_file, "--rate", str(half), "--seconds", secs)
            rows["healthz_open"] = node_load(
                "open", base, pids, "--path", "/healthz", "--rate", str(half), "--seconds", secs
            )
            print(f"{database}: flash sales of {options.flash_buyers} buyers, {options.rounds} rounds", file=sys.stderr)
            flashes, bursts, sold = [], [], []
            for _ in range(options.rounds):  # each round a new product, and the burst right after it
                flash = shop.product(options.flash_stock)
                tokens = [t for _, t in flash_buyers]
                flash_file = write_json(work, "flash.json", {"product_id": flash, "tokens": tokens})
                flashes.append(node_load("burst", base, pids, "--checkout", "--buyers", flash_file))
                bursts.append(node_load("burst", base, pids, "--path", "/healthz", "--buyers", flash_file))
                sold.append(shop.sold(flash))
            rows["flash"] = min(flashes, key=lambda run: abs(run["all_answered_ms"] - median_of(flashes)))
            rows["healthz_burst"] = min(bursts, key=lambda run: abs(run["all_answered_ms"] - median_of(bursts)))
            check = httpx.get(
                base + "/api/v1/admin/ledger/check",
                headers={"Authorization": f"Bearer {shop.admin_token}"},
                timeout=300,
            ).json()
        if database_url:
            rows["commit_bound"] = commit_bound(env, database_url, buyers_file, options)
        rows["ledger_ok"] = check["ok"]
        rows["flash_sold"] = [paid for paid, _left in sold]
        rows["flash_left"] = [left for _paid, left in sold]
        rows["half_rate"] = half
        return rows
    finally:
        shop.close()


def median_of(runs: list[dict]) -> float:
    return statistics.median(run["all_answered_ms"] for run in runs)


def alternating_ceilings(
    base: str, pids: list[int], loads: list[tuple[str, ...]], options: argparse.Namespace
) -> list[dict]:
    """Each load's closed-loop ceiling, median of `--rounds` runs taken in turn (A B A B ...): this shared machine's
    speed drifts from minute to minute, so loads run far apart in time are not compared."""
    runs: list[list[dict]] = [[] for _ in loads]
    for _ in range(options.rounds):
        for load, done in zip(loads, runs, strict=True):
            conns, secs = str(options.connections), str(options.seconds)
            done.append(node_load("ceiling", base, pids, *load, "--connections", conns, "--seconds", secs))
    return [{key: statistics.median(run[key] for run in done) for key in ("rate", "cpu_ms")} for done in runs]


def commit_bound(env: dict[str, str], database_url: str, buyers_file: str, options: argparse.Namespace) -> dict:
    """The most batching commits (group commit) could save on PostgreSQL: checkout's ceiling with commits waited for
    beside the same with `synchronous_commit=off` (none waited for), alternating rounds on two servers; medians."""
    print("PostgreSQL: ceilings with synchronous_commit on and off ...", file=sys.stderr)
    unsynced = {**env, "VETRINA_DATABASE_URL": database_url + "%20-csynchronous_commit%3Doff"}
    load = ("--checkout", "--buyers", buyers_file, "--connections", str(options.connections))
    rates: dict[str, list[float]] = {"on": [], "off": []}
    with served(env, options.processes) as (synced_base, synced), served(unsynced, options.processes) as (base, off):
        for _ in range(options.rounds):
            for key, url, pid in (("on", synced_base, synced), ("off", base, off)):
                rates[key].append(node_load("ceiling", url, server_pids(pid), *load, "--seconds", "5")["rate"])
    return {key: statistics.median(values) for key, values in rates.items()}


def print_tables(options: argparse.Namespace, tps: float | None, results: dict[str, dict]) -> None:
    print(
        f"\nCheckout: `vetrina serve --workers {options.processes}`, load from Node (bench/load.mjs), "
        f"{options.connections} connections; ceilings are medians of {options.rounds} alternating rounds of "
        f"{options.seconds} s"
    )
    if tps is not None:
        print(f"pgbench -b tpcb-like on the same PostgreSQL, {options.connections} clients: {tps:.1f} transactions/s")
    for database, r in results.items():
        healthz, checkout = r["healthz"], r["checkout"]
        paid_per_s = checkout["rate"] / 2
        print(f"\n{database}\n")
        print(f"| {'what':<46} | {'per second':>10} | {'CPU ms/answer':>13} | {'vs /healthz':>11} |")
        print(f"|{'-' * 48}|{'-' * 12}|{'-' * 15}|{'-' * 13}|")
        print(
            f"| {'GET /healthz (closed loop)':<46} | {healthz['rate']:10.1f} | {healthz['cpu_ms']:13.2f} | {1:11.3f} |"
        )
        print(
            f"| {'checkout requests (create, pay; closed loop)':<46} | {checkout['rate']:10.1f} | "
            f"{checkout['cpu_ms']:13.2f} | {checkout['rate'] / healthz['rate']:11.3f} |"
        )
        print(
            f"| {'paid orders':<46} | {paid_per_s:10.1f} | {2 * checkout['cpu_ms']:13.2f} | "
            f"{2 * checkout['cpu_ms'] / healthz['cpu_ms']:>10.2f}x |"
        )
        if "commit_bound" in r:
            bound = r["commit_bound"]
            print(
                f"| {'checkout requests, commits waited for (median)':<46} | {bound['on']:10.1f} | {'':>13} | "
                f"{bound['on'] / healthz['rate']:11.3f} |"
            )
            print(
                f"| {'  the same, synchronous_commit=off (median)':<46} | {bound['off']:10.1f} | {'':>13} | "
                f"{bound['off'] / healthz['rate']:11.3f} |"
            )
        if tps:
            print(f"| {'  paid orders vs pgbench tps':<46} | {'':>10} | {'':>13} | {paid_per_s / tps:11.3f} |")
        print(f"\nopen loop at {r['half_rate']}/s (half the checkout ceiling), {options.open_seconds} s:\n")
        print(f"| {'route':<28} | {'p50 ms':>7} | {'p99 ms':>7} | {'p99.9 ms':>8} | {'CPU ms/answer':>13} | answers |")
        print(f"|{'-' * 30}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 15}|{'-' * 9}|")
        for name, key in (("POST /api/v1/orders/{id}/pay", "pay_open"), ("GET /healthz", "healthz_open")):
            o = r[key]
            print(
                f"| {name:<28} | {o['p50_ms']:7.1f} | {o['p99_ms']:7.1f} | {o['p999_ms']:8.1f} | {o['cpu_ms']:13.2f} "
                f"| {json.dumps(o['statuses'])} |"
            )
        flash, burst = r["flash"], r["healthz_burst"]
        print(
            f"\nflash sale: {options.flash_buyers} buyers at once for {options.flash_stock} units (the median of "
            f"{options.rounds} rounds): every buyer answered in {flash['all_answered_ms']:.0f} ms "
            f"({json.dumps(flash['statuses'])}); {options.flash_buyers} x GET /healthz at once: "
            f"{burst['all_answered_ms']:.0f} ms; ratio {flash['all_answered_ms'] / burst['all_answered_ms']:.2f}"
        )
        print(
            f"paid per round {r['flash_sold']} of {options.flash_stock} (stock left {r['flash_left']}); ledger check "
            f"ok: {r['ledger_ok']}"
        )
        print(
            f"goals: CPU per paid order <= 4x /healthz's (measured {2 * checkout['cpu_ms'] / healthz['cpu_ms']:.2f}x); "
            f"checkout requests/s >= 0.5 of /healthz's ({checkout['rate'] / healthz['rate']:.3f}); pay p99 <= 3x "
            f"/healthz's at the same rate ({r['pay_open']['p99_ms'] / r['healthz_open']['p99_ms']:.2f}x); flash sale "
            f"<= 2x /healthz's burst ({flash['all_answered_ms'] / burst['all_answered_ms']:.2f}x), exactly "
            f"{options.flash_stock} paid in every round ({r['flash_sold']})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--processes", type=int, default=2, help="`vetrina serve --workers`: one per core")
    parser.add_argument("--open-seconds", type=int, default=10, help="each open-loop latency run")
    parser.add_argument("--flash-buyers", type=int, default=1000)
    parser.add_argument("--flash-stock", type=int, default=100)
    parser.add_argument("--only", choices=["postgres", "sqlite"], default=None)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the ceilings and the commit bound")
    options = parser.parse_args()
    # A thousand buyers at once are a thousand sockets on each side.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results: dict[str, dict] = {}
    tps = None
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp, databases(POSTGRES) as fresh:
        if options.only != "sqlite":
            print("pgbench tpcb-like ...", file=sys.stderr)
            tps = pgbench_tps(options.connections, options.seconds)
            results["PostgreSQL"] = run_on("PostgreSQL", fresh(), Path(tmp) / "pg", options)
        if options.only != "postgres":
            results["SQLite"] = run_on("SQLite", None, Path(tmp) / "sqlite", options)
    print_tables(options, tps, results)


if __name__ == "__main__":
    main()
