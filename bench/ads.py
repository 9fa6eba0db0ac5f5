"""Ad decision benchmark: VAST answers per second and their latency with 1,000 active campaigns, from 32
concurrent clients, beside a trivial route of the same server (the ceiling) in the same run; then both routes'
latency at a fixed offered rate of half the decision's ceiling (open loop, from bench/load.mjs).

Each answer runs the whole decision: eligibility and targeting, frequency caps, pacing, the second-price
auction, recording the served ad, and writing the VAST document.

    .venv/bin/python bench/ads.py [--campaigns 1000] [--clients 32] [--seconds 8] [--rounds 3] [--processes 2]
                                  [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
from databases import databases
from live import Load, autocannon, latency_at_half_ceiling, median_load, print_latency_table, served, server_pids

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.ads.models import Campaign
from vetrina.media.models import Video, VideoStatus
from vetrina.runtime import build_context
from vetrina.settings import Settings


def _video(owner_id: int, title: str) -> Video:
    return Video(
        owner_id=owner_id,
        title=title,
        description="",
        status=VideoStatus.ready.value,
        progress=1.0,
        duration_s=600.0,
        width=1920,
        height=1080,
        frame_rate=30.0,
        has_audio=True,
        renditions=[],
        published=True,
        allow_merchant_tags=False,
        output_key=f"videos/bench/{title}",
        created_at=clock.now(),
    )


def seed(settings: Settings, campaigns: int) -> int:
    """A publisher's film and `campaigns` active linear campaigns by 50 advertisers; returns the film's id."""
    rng = random.Random(1)  # noqa: S311  (bench data)
    ctx = build_context(settings)
    now = clock.now()
    try:
        with ctx.db.session(write=True) as session:
            publisher = accounts.create_user(session, "pub@bench.example", "bench password", Role.merchant)
            session.flush()
            film = _video(publisher.id, "film")
            session.add(film)
            advertisers = []
            for i in range(50):
                merchant = accounts.create_user(session, f"ad{i}@bench.example", "bench password", Role.merchant)
                session.flush()
                spot = _video(merchant.id, f"spot{i}")
                session.add(spot)
                session.flush()
                advertisers.append((merchant.id, spot.id))
            for i in range(campaigns):
                merchant_id, spot_id = advertisers[i % len(advertisers)]
                targeting = rng.choice(
                    [
                        {},
                        {},
                        {"territories": ["IT", "FR", "DE"]},
                        {"devices": ["mobile", "desktop"]},
                        {"hours": list(range(24))},
                    ]
                )
                session.add(
                    Campaign(
                        merchant_id=merchant_id,
                        name=f"Campaign {i}",
                        kind="linear",
                        video_id=spot_id,
                        bid_model="cpm",
                        bid_amount=rng.randrange(200, 3000),
                        currency="EUR",
                        budget_total=10_000_000,
                        budget_daily=10_000_000,
                        spent_millis=0,
                        starts_at=now - timedelta(days=1),
                        ends_at=now + timedelta(days=30),
                        targeting=targeting,
                        status="active",
                        frequency_cap_count=rng.choice([None, None, 5]),
                        frequency_cap_hours=24,
                        created_at=now,
                        updated_at=now,
                    )
                )
            session.flush()
            return film.id
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each route; medians are shown")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to run on (a fresh schema is made)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp, databases(options.postgres) as fresh:
        database_url = fresh()
        # Every request from loopback, as fast as it can: a load test, not the abuse the ad rate limits stop.
        env = {**os.environ, "VETRINA_DATA_DIR": tmp, "VETRINA_RATE_LIMITS_ENABLED": "false"}
        if database_url:
            env["VETRINA_DATABASE_URL"] = database_url
        database = "PostgreSQL" if database_url else "SQLite"
        settings = Settings(data_dir=Path(tmp), database_url=database_url)
        film = seed(settings, options.campaigns)
        runs: dict[str, list[Load]] = {"ceiling": [], "decision": [], "light ceiling": [], "light decision": []}
        with served(env, options.processes) as (base, server):
            path = f"/api/v1/ads/vast?video_id={film}&slot=preroll&device=mobile"
            italy = {"CF-IPCountry": "IT"}  # the viewer's territory, as a CDN in front would say
            assert b"<InLine>" in httpx.get(base + path, headers=italy).content, "the decision serves an ad"
            pids = server_pids(server)
            # Alternating rounds, so that a slow spell of this shared machine falls on both routes. Besides
            # saturation (where any route's latency is mostly its queue), latency with 4 connections.
            for _ in range(options.rounds):
                for key, route, clients in (
                    ("ceiling", "/healthz", options.clients),
                    ("decision", path, options.clients),
                    ("light ceiling", "/healthz", 4),
                    ("light decision", path, 4),
                ):
                    runs[key].append(autocannon(base, route, clients, options.seconds, pids, italy))
            paced = latency_at_half_ceiling(
                base, pids, "GET /api/v1/ads/vast", path, options.clients, options.seconds, italy
            )
    ceiling, decision, light_ceiling, light = (median_load(r) for r in runs.values())
    print(
        f"\nAd decisions: {options.campaigns} active campaigns, autocannon, {options.seconds} s x {options.rounds} "
        f"alternating rounds (medians), {database}, `vetrina serve --workers {options.processes}`\n"
    )
    print(
        f"| {'route':<36} | {'conns':>5} | {'req/s':>7} | {'p50 ms':>6} | {'p99 ms':>6} | {'CPU ms/req':>10} "
        f"| {'vs ceiling':>10} |"
    )
    print(f"|{'-' * 38}|{'-' * 7}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 12}|{'-' * 12}|")
    rows = (
        ("GET /healthz (ceiling)", options.clients, ceiling, ceiling),
        ("GET /api/v1/ads/vast (decision)", options.clients, decision, ceiling),
        ("GET /healthz (ceiling)", 4, light_ceiling, light_ceiling),
        ("GET /api/v1/ads/vast (decision)", 4, light, light_ceiling),
    )
    for name, clients, load, versus in rows:
        print(
            f"| {name:<36} | {clients:5d} | {load.rate:7.1f} | {load.p50_ms:6.1f} | {load.p99_ms:6.1f} | "
            f"{load.cpu_ms:10.2f} | {load.rate / versus.rate:10.3f} |"
        )
    print("\nLatency below saturation: Node's open-loop sender (bench/load.mjs) at half the decision's ceiling\n")
    print_latency_table(paced)
    print(
        f"\ngoal: ratio >= 0.4 at {options.clients} connections (measured {decision.rate / ceiling.rate:.3f}; "
        f"by server CPU per answer {ceiling.cpu_ms / decision.cpu_ms:.3f}); p99 <= 25 ms (measured "
        f"{decision.p99_ms:.1f} ms at {options.clients} connections, where /healthz has {ceiling.p99_ms:.1f} ms; "
        f"{light.p99_ms:.1f} ms at 4 connections)"
    )


if __name__ == "__main__":
    main()
