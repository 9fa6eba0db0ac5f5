"""Checkout benchmark: paid orders per second (create + pay, Idempotency-Keys on) with 16 concurrent HTTP
clients against a real `vetrina serve` process, beside `pgbench -b tpcb-like` on the same PostgreSQL server
in the same run; then the same load on the embedded SQLite default. Ends with the ledger check.

    .venv/bin/python bench/checkout.py [--clients 16] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.runtime import build_context
from vetrina.settings import Settings

POSTGRES = os.environ.get("VETRINA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pgbench_tps(clients: int, seconds: int) -> float:
    """TPC-B-like transactions per second from pgbench, in a throwaway database on the same server."""
    name = f"vetrina_pgbench_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = POSTGRES.rsplit("/", 1)[0] + "/" + name
        subprocess.run(["pgbench", "-i", "-q", "-s", "10", url], check=True, capture_output=True)
        result = subprocess.run(
            ["pgbench", "-b", "tpcb-like", "-c", str(clients), "-j", "2", "-T", str(seconds), url],
            check=True,
            capture_output=True,
            text=True,
        )
        return float(re.search(r"tps = ([\d.]+)", result.stdout).group(1))
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def requests_per_s(base: str, path: str, clients: int, seconds: float) -> float:
    """How fast the same clients can hit a trivial route: the ceiling of this HTTP stack on this machine."""
    count = [0] * clients
    deadline = time.perf_counter() + seconds

    def hit(index: int) -> None:
        with httpx.Client(base_url=base) as http:
            while time.perf_counter() < deadline:
                http.get(path)
                count[index] += 1

    threads = [threading.Thread(target=hit, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(count) / seconds


def vetrina_paid_orders_per_s(
    settings: Settings, clients: int, seconds: int, processes: int
) -> tuple[float, float, dict]:
    """Start `vetrina serve` on `settings`, drive create+pay from `clients` threads; returns (rate, ledger check)."""
    ctx = build_context(settings)
    with ctx.db.session() as session:
        merchant = accounts.create_user(session, "seller@bench.example", "bench password", Role.merchant)
        admin = accounts.create_user(session, "admin@bench.example", "bench password", Role.admin)
        buyers = [accounts.create_user(session, f"b{i}@bench.example", "bench password") for i in range(clients)]
        session.flush()
        tokens = {u.email: accounts.create_api_token(session, u) for u in [merchant, admin, *buyers]}
    ctx.close()
    port = free_port()
    env = {
        **os.environ,
        "VETRINA_DATA_DIR": str(settings.data_dir),
        "VETRINA_SECRET_KEY": "bench",
        "VETRINA_FUNDING_PROVIDERS": '["sandbox"]',
        # Every buyer tops up from loopback as fast as it can: a load test, not an attack.
        "VETRINA_RATE_LIMITS_ENABLED": "false",
    }
    if settings.database_url:
        env["VETRINA_DATABASE_URL"] = settings.database_url
    server = subprocess.Popen(
        [sys.executable, "-m", "vetrina", "serve", "--port", str(port), "--workers", str(processes)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        seller = {"Authorization": f"Bearer {tokens['seller@bench.example']}"}
        product = httpx.post(
            base + "/api/v1/products",
            headers=seller,
            json={"title": "Bench tea", "price": {"amount": 100, "currency": "EUR"}, "stock": 1_000_000},
        ).json()
        for buyer in buyers:
            httpx.post(
                base + "/api/v1/wallet/topups",
                headers={"Authorization": f"Bearer {tokens[buyer.email]}"},
                json={"amount": 1_000_000, "currency": "EUR"},
            )
        paid = [0] * clients
        errors: list[str] = []
        deadline = time.perf_counter() + seconds

        def shop(index: int) -> None:
            auth = {"Authorization": f"Bearer {tokens[buyers[index].email]}"}
            with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
                while time.perf_counter() < deadline:
                    order = http.post(
                        "/api/v1/orders",
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                        json={"items": [{"product_id": product["id"], "quantity": 1}]},
                    )
                    if order.status_code != 201:
                        errors.append(order.text)
                        continue
                    pay = http.post(
                        f"/api/v1/orders/{order.json()['id']}/pay", headers={"Idempotency-Key": uuid.uuid4().hex}
                    )
                    if pay.status_code == 200:
                        paid[index] += 1
                    else:
                        errors.append(pay.text)

        ceiling = requests_per_s(base, "/healthz", clients, 5)
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        threads = [threading.Thread(target=shop, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        admin_auth = {"Authorization": f"Bearer {tokens['admin@bench.example']}"}
        report = httpx.get(base + "/api/v1/admin/ledger/check", headers=admin_auth, timeout=120).json()
        report["errors"] = len(errors)
        return sum(paid) / elapsed, ceiling, report
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2, help="`vetrina serve --workers`: one per core")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vetrina-bench-"))
    database = f"vetrina_checkout_{secrets.token_hex(4)}"
    try:
        print("pgbench tpcb-like ...", file=sys.stderr)
        tps = pgbench_tps(options.clients, options.seconds)
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        pg_url = "postgresql+psycopg://" + POSTGRES.split("://", 1)[1].rsplit("/", 1)[0] + "/" + database
        print("Vetrina on PostgreSQL ...", file=sys.stderr)
        pg_rate, pg_ceiling, pg_report = vetrina_paid_orders_per_s(
            Settings(data_dir=work / "pg", database_url=pg_url), options.clients, options.seconds, options.processes
        )
        print("Vetrina on SQLite ...", file=sys.stderr)
        lite_rate, _lite_ceiling, lite_report = vetrina_paid_orders_per_s(
            Settings(data_dir=work / "sqlite"), options.clients, options.seconds, options.processes
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    print(
        f"\nCheckout: {options.clients} concurrent clients, {options.seconds} s each, "
        f"`vetrina serve --workers {options.processes}`\n"
    )
    print(f"| {'what':<44} | {'per second':>10} | {'vs pgbench':>10} |")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 12}|")
    print(f"| {'pgbench -b tpcb-like (reference)':<44} | {tps:10.1f} | {1:10.3f} |")
    print(f"| {'Vetrina paid orders, PostgreSQL':<44} | {pg_rate:10.1f} | {pg_rate / tps:10.3f} |")
    print(f"| {'Vetrina paid orders, SQLite':<44} | {lite_rate:10.1f} | {lite_rate / tps:10.3f} |")
    print(f"| {'GET /healthz on the same server (ceiling)':<44} | {pg_ceiling:10.1f} | {pg_ceiling / tps:10.3f} |")
    for name, report in (("PostgreSQL", pg_report), ("SQLite", lite_report)):
        print(
            f"\nledger check ({name}): ok={report['ok']}, transfers={report['transfers']}, "
            f"violations={len(report['violations'])}, failed requests={report['errors']}"
        )
    print(f"\ngoal: >= 0.25 of pgbench's tps; PostgreSQL ratio {pg_rate / tps:.3f}")
    print(
        f"a paid order is 2 requests; at the goal that is {0.5 * tps:.0f} requests/s, "
        f"against {pg_ceiling:.0f}/s for a one-query GET /healthz here"
    )


if __name__ == "__main__":
    main()
