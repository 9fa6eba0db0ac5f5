"""Timeline benchmark: requests per second and p50/p99 latency of GET /api/v1/videos/{id}/timeline for a video
with 200 tags, from 32 concurrent clients, beside a trivial route of the same server (the ceiling) in the same run.

    .venv/bin/python bench/timeline.py [--clients 32] [--seconds 10] [--tags 200] [--processes 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from live import served

from vetrina import clock
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.catalog import service as catalog
from vetrina.media.models import Video, VideoStatus
from vetrina.money import Money
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.shoppable import service as shoppable


def seed(settings: Settings, tags: int) -> int:
    """A ready video with `tags` tags over 40 products (a few sold out); returns its id."""
    ctx = build_context(settings)
    try:
        with ctx.db.session(write=True) as session:
            merchant = accounts.create_user(session, "m@bench.example", "bench password", Role.merchant)
            session.flush()
            video = Video(
                owner_id=merchant.id,
                title="Bench",
                description="",
                status=VideoStatus.ready.value,
                progress=1.0,
                duration_s=3600.0,
                width=1920,
                height=1080,
                frame_rate=30.0,
                has_audio=True,
                renditions=[],
                published=True,
                allow_merchant_tags=False,
                output_key="videos/0/hls-bench",
                created_at=clock.now(),
            )
            session.add(video)
            products = [
                catalog.create_product(
                    session,
                    merchant,
                    title=f"Product {i}",
                    description="",
                    price=Money(1000 + 37 * i, "EUR"),
                    stock=0 if i % 10 == 0 else 50,
                    variants=[],
                    published=True,
                )
                for i in range(40)
            ]
            session.flush()
            for i in range(tags):
                start = i * 3600 / tags
                box = {"x": 0.1, "y": 0.1, "w": 0.3, "h": 0.3}
                spec = shoppable.TagSpec(product_id=products[i % 40].id, start_s=start, end_s=start + 8, box=box)
                shoppable.create_tag(session, video.id, merchant, spec)
            return video.id
    finally:
        ctx.close()


def load(base: str, path: str, clients: int, seconds: float) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of GET `path` from `clients` threads for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    def hit(index: int) -> None:
        with httpx.Client(base_url=base) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                http.get(path).raise_for_status()
                latencies[index].append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=hit, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(x for per_client in latencies for x in per_client)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))]
    return len(every) / seconds, statistics.median(every), p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        video_id = seed(settings, options.tags)
        env = {**os.environ, "VETRINA_DATA_DIR": tmp}
        with served(env, options.processes) as (base, _server):
            timeline_path = f"/api/v1/videos/{video_id}/timeline"
            assert len(httpx.get(base + timeline_path).json()["tags"]) == options.tags
            ceiling = load(base, "/healthz", options.clients, options.seconds)
            ours = load(base, timeline_path, options.clients, options.seconds)
    print(
        f"\nTimeline: {options.tags} tags, {options.clients} clients, {options.seconds:.0f} s each, "
        f"SQLite, `vetrina serve --workers {options.processes}`\n"
    )
    print(f"| {'route':<36} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'vs ceiling':>10} |")
    print(f"|{'-' * 38}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 12}|")
    for name, (rate, p50, p99) in (("GET /healthz (ceiling)", ceiling), ("GET .../timeline", ours)):
        print(f"| {name:<36} | {rate:8.1f} | {p50:7.1f} | {p99:7.1f} | {rate / ceiling[0]:10.3f} |")
    print(f"\ngoal: ratio >= 0.6 and p99 <= 20 ms; measured ratio {ours[0] / ceiling[0]:.3f}, p99 {ours[2]:.1f} ms")


if __name__ == "__main__":
    main()
