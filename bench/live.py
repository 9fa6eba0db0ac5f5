"""What the HTTP benchmarks share: a fresh Vetrina with one merchant, served by uvicorn on a loopback port; and
load from autocannon (npm), a load generator light enough not to take the server's CPU from it."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.web.app import create_app


@contextmanager
def merchant_client(data_dir: Path, timeout_s: float = 600) -> Iterator[httpx.Client]:
    """An HTTP client signed in as a new merchant of a new Vetrina in `data_dir` (in-process job workers)."""
    ctx = build_context(Settings(data_dir=data_dir, job_poll_max_s=0.1))
    with ctx.db.session() as session:
        user = accounts.create_user(session, "bench@example.com", "bench password", Role.merchant)
        session.flush()
        token = accounts.create_api_token(session, user)
    # As `vetrina serve` runs it: request.client is the direct peer, X-Forwarded-For is vetrina.geo's to judge.
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ctx, run_worker=True), host="127.0.0.1", port=0, log_level="warning", proxy_headers=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s
        ) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        ctx.close()


AUTOCANNON = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "autocannon"


@dataclass(frozen=True)
class Load:
    """What one run of load measured: answers per second, latency percentiles, and the server's CPU per answer."""

    rate: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # user + system CPU of all server processes per answer


def median_load(runs: list[Load]) -> Load:
    """Each figure's median over alternating rounds."""

    def mid(values: list[float]) -> float:
        return statistics.median(values)

    return Load(
        mid([r.rate for r in runs]),
        mid([r.p50_ms for r in runs]),
        mid([r.p99_ms for r in runs]),
        mid([r.cpu_ms for r in runs]),
    )


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
        except FileNotFoundError:  # a worker that ended
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(root: int) -> list[int]:
    """The server process and its workers (uvicorn --workers N forks them)."""
    children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
    return [root, *map(int, children)]


def autocannon(
    base: str,
    path: str,
    connections: int,
    seconds: float,
    pids: list[int],
    headers: dict[str, str] | None = None,
    rate: int | None = None,
) -> Load:
    """GET `path` over `connections` keep-alive connections for `seconds`: closed loop, or with `rate`, that many
    requests a second offered whatever the answers' speed (latency below saturation); every answer must be a 2xx."""
    args = [str(AUTOCANNON), "--json", "-c", str(connections), "-d", str(seconds)]
    if rate is not None:
        args += ["--overallRate", str(rate)]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}={value}"]
    started = cpu_s(pids)
    out = subprocess.run([*args, base + path], capture_output=True, text=True, check=True).stdout
    used = cpu_s(pids) - started
    result = json.loads(out)
    answers = result["requests"]["total"]
    if result["non2xx"] or result["errors"] or not answers:
        raise RuntimeError(f"{path}: {result['non2xx']} non-2xx answers, {result['errors']} errors, of {answers}")
    latency = result["latency"]
    return Load(answers / seconds, latency["p50"], latency["p99"], used * 1000 / answers)


LOAD_SCRIPT = Path(__file__).resolve().parent / "load.mjs"


def node_load(mode: str, base: str, pids: list[int], *args: str) -> dict:
    """One run of bench/load.mjs (`mode`: ceiling, open or burst; see its header) against `base`: its JSON, with
    `cpu_ms`, the server processes' CPU per answer, beside."""
    started = cpu_s(pids)
    out = subprocess.run(
        ["node", str(LOAD_SCRIPT), mode, "--url", base, *args], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out)
    result["cpu_ms"] = (cpu_s(pids) - started) * 1000 / max(1, result["answers"])
    return result


def latency_at_half_ceiling(
    base: str, pids: list[int], name: str, path: str, connections: int, seconds: float, headers: dict[str, str]
) -> list[tuple[str, dict]]:
    """The route's ceiling and /healthz's (closed loop, `connections`), then both at half the route's ceiling
    (open loop): the rows of `print_latency_table`."""
    sent = [arg for key, value in headers.items() for arg in ("--header", f"{key}={value}")]
    span = ("--connections", str(connections), "--seconds", str(seconds))
    healthz = node_load("ceiling", base, pids, "--path", "/healthz", *span)
    route = node_load("ceiling", base, pids, "--path", path, *sent, *span)
    half = str(max(1, int(route["rate"] / 2)))
    paced = ("--rate", half, "--seconds", str(seconds))
    return [
        ("GET /healthz, closed loop", healthz),
        (f"{name}, closed loop", route),
        (f"{name}, {half}/s open loop", node_load("open", base, pids, "--path", path, *sent, *paced)),
        (f"GET /healthz, {half}/s open loop", node_load("open", base, pids, "--path", "/healthz", *paced)),
    ]


def print_latency_table(rows: list[tuple[str, dict]]) -> None:
    """Rate, latency percentiles and the server's CPU per answer, from `latency_at_half_ceiling`'s rows."""
    print(f"| {'load':<44} | {'req/s':>7} | {'p50 ms':>6} | {'p99 ms':>6} | {'p99.9 ms':>8} | {'CPU ms/req':>10} |")
    print(f"|{'-' * 46}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 10}|{'-' * 12}|")
    for name, row in rows:
        rate = row.get("rate") or row.get("offered_rate") or 0.0
        p999 = f"{row['p999_ms']:8.1f}" if row.get("p999_ms") is not None else f"{'-':>8}"
        print(
            f"| {name:<44} | {rate:7.1f} | {row['p50_ms']:6.1f} | {row['p99_ms']:6.1f} | {p999} | "
            f"{row['cpu_ms']:10.2f} |"
        )
    route_p99, healthz_p99 = rows[2][1]["p99_ms"], rows[3][1]["p99_ms"]
    print(f"\nat half the route's ceiling, its p99 is {route_p99 / healthz_p99:.2f}x /healthz's at the same rate")


@contextmanager
def served(env: dict[str, str], processes: int, *options: str) -> Iterator[tuple[str, int]]:
    """`vetrina serve --workers N [options]` as a newcomer runs it, on a free loopback port; yields its base URL
    and pid."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vetrina",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(processes),
            "--no-live",
            *options,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
